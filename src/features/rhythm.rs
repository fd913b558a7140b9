//! Rhythm: daily and weekly structure. People, shops and grow lights follow the clock; a rig
//! does not (DOMAIN.md: "steady with no daily fluctuation").
//!
//! Input: kW row and the local calendar. Output: the amplitude of the mean 24-hour profile
//! relative to the mean, autocorrelation at one day and one week, night/day and weekend/weekday
//! ratios of mean load.

use super::baseload::DayStats;
use super::calendar::{Calendar, DAY, NIGHT, WEEKEND};
use crate::stats::Pairs;

/// Rhythm figures of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rhythm {
    /// (max - min) of the mean load by local hour, over the mean load.
    pub diurnal_amp: f32,
    /// Pearson autocorrelation at a lag of one day / one week (pairs with both slots present)
    /// of the load less its day's mean, on hourly means ([`hourly_within_day`]).
    pub acf_day: f32,
    pub acf_week: f32,
    /// Mean load in local night hours over mean load in local day hours.
    pub night_day_ratio: f32,
    /// Mean load on Saturdays and Sundays over mean load on weekdays.
    pub weekend_ratio: f32,
}

/// Pearson correlation of `x[s]` and `x[s + lag]` over pairs where both are present.
pub fn autocorrelation(x: &[f32], lag: usize) -> f32 {
    autocorrelations(x, [lag])[0]
}

/// Pearson correlation of the pairs, the rhythm's rule: `NaN` under three pairs; 0 when either
/// side is constant (a constant series has no rhythm to correlate).
fn corr(p: &Pairs) -> f32 {
    if p.n() < 3.0 {
        return f32::NAN;
    }
    let (va, vb, cov) = p.moments();
    if va <= 1e-12 || vb <= 1e-12 {
        return 0.0;
    }
    (cov / (va * vb).sqrt()) as f32
}

/// Autocorrelations at several lags (each lag's pairs added in slot order).
pub fn autocorrelations<const K: usize>(x: &[f32], lags: [usize; K]) -> [f32; K] {
    let mut out = [f32::NAN; K];
    for k in 0..K {
        let lag = lags[k];
        if lag == 0 || lag >= x.len() {
            continue;
        }
        let mut p = Pairs::default();
        for (&a, &b) in x.iter().zip(&x[lag..]) {
            if !a.is_nan() && !b.is_nan() {
                p.add(f64::from(a), f64::from(b));
            }
        }
        out[k] = corr(&p);
    }
    out
}

/// `kw[from..]` less each local day's mean, slot by slot: the reference [`hourly_within_day`]
/// is tested against.
#[cfg(test)]
fn within_day(kw: &[f32], cal: &Calendar, from: usize) -> Vec<f32> {
    let from = from.min(kw.len());
    let mut sums: Vec<(f64, u32)> = vec![(0.0, 0); cal.n_days];
    for s in from..kw.len() {
        if !kw[s].is_nan() {
            let e = &mut sums[cal.day[s] as usize];
            e.0 += f64::from(kw[s]);
            e.1 += 1;
        }
    }
    (from..kw.len())
        .map(|s| {
            let (sum, n) = sums[cal.day[s] as usize];
            if n == 0 {
                f32::NAN
            } else {
                kw[s] - (sum / f64::from(n)) as f32
            }
        })
        .collect()
}

/// `kw[from..]` less each local day's mean (the pattern within the day, without the level changes
/// between days: a rig adding devices, heating in a cold week, which would otherwise read as a
/// repeating daily pattern), averaged over consecutive groups of `per_hour` slots, in one pass
/// per day (a test checks it against the two-step reference).
pub fn hourly_within_day(kw: &[f32], cal: &Calendar, from: usize, per_hour: usize) -> Vec<f32> {
    let mut out = Vec::new();
    hourly_within_day_into(kw, cal, from, per_hour, None, &mut out);
    out
}

/// [`hourly_within_day`] into `out`; with `days` (the runs of `cal.day`) and their
/// [`DayStats`], a day that lies wholly from `from` on takes its mean from the stats (the same
/// sum in the same order) instead of summing again.
pub fn hourly_within_day_into(
    kw: &[f32],
    cal: &Calendar,
    from: usize,
    per_hour: usize,
    pre: Option<(&[std::ops::Range<usize>], &DayStats)>,
    out: &mut Vec<f32>,
) {
    let from = from.min(kw.len());
    let k = per_hour.max(1);
    out.clear();
    out.reserve((kw.len() - from) / k + 1);
    let push_day = |out: &mut Vec<f32>, slots: &[f32], n: u32, sum: f64| {
        let mean = if n == 0 {
            f32::NAN
        } else {
            (sum / f64::from(n)) as f32
        };
        if k == 2 {
            // Half-hourly: the pair's sum is NaN when either is missing.
            for c in slots.chunks_exact(2) {
                let t = c.iter().sum::<f32>();
                out.push(if t.is_nan() { f32::NAN } else { t / 2.0 - mean });
            }
            if slots.len() % 2 == 1 {
                out.push(f32::NAN);
            }
            return;
        }
        for c in slots.chunks(k) {
            out.push(if c.len() == k && c.iter().all(|v| !v.is_nan()) {
                c.iter().sum::<f32>() / k as f32 - mean
            } else {
                f32::NAN
            });
        }
    };
    let mut s = from;
    if let Some((days, stats)) = pre {
        if from < kw.len() {
            let d0 = cal.day[from] as usize;
            if days.get(d0).is_some_and(|r| r.start == from) {
                for (d, r) in days.iter().enumerate().skip(d0) {
                    push_day(out, &kw[r.clone()], stats.n[d], stats.sum[d]);
                }
                return;
            }
        }
    }
    while s < kw.len() {
        let d = cal.day[s];
        let mut e = s;
        let (mut n, mut sum) = (0u32, 0f64);
        while e < kw.len() && cal.day[e] == d {
            if !kw[e].is_nan() {
                n += 1;
                sum += f64::from(kw[e]);
            }
            e += 1;
        }
        push_day(out, &kw[s..e], n, sum);
        s = e;
    }
}

/// Means of consecutive groups of `k` values (`NaN` unless all `k` are present).
#[cfg(test)]
fn hourly_means(x: &[f32], k: usize) -> Vec<f32> {
    if k <= 1 {
        return x.to_vec();
    }
    x.chunks(k)
        .map(|c| {
            if c.len() == k && c.iter().all(|v| !v.is_nan()) {
                c.iter().sum::<f32>() / k as f32
            } else {
                f32::NAN
            }
        })
        .collect()
}

/// The rhythm's sums over slots, added in slot order: by local hour, night and day hours,
/// weekend and weekdays (kW, present slots only).
#[derive(Debug, Clone, Copy, Default)]
pub struct SlotSums {
    hour_sum: [f64; 24],
    hour_n: [u32; 24],
    night: f64,
    night_n: u32,
    day: f64,
    day_n: u32,
    we: f64,
    we_n: u32,
    wd: f64,
    wd_n: u32,
}

impl SlotSums {
    /// Adds slot value `v` (skipped when missing) at local hour `h` with class bits `c`.
    #[inline]
    pub fn add(&mut self, v: f32, h: u8, c: u8) {
        if v.is_nan() {
            return;
        }
        let v64 = f64::from(v);
        let h = usize::from(h).min(23);
        self.hour_sum[h] += v64;
        self.hour_n[h] += 1;
        // Each sum a chain of additions over its own slots only (the class bits repeat day
        // after day, which a branch predictor learns): the same sums as adding +0.0 for the
        // others, which leaves a sum that starts at +0.0 bitwise unchanged.
        let (is_night, is_day, is_we) = (c & NIGHT != 0, c & DAY != 0, c & WEEKEND != 0);
        if is_night {
            self.night += v64;
            self.night_n += 1;
        }
        if is_day {
            self.day += v64;
            self.day_n += 1;
        }
        if is_we {
            self.we += v64;
            self.we_n += 1;
        } else {
            self.wd += v64;
            self.wd_n += 1;
        }
    }
}

/// Rhythm of `kw[from..]` (the part since an onset; `from = 0` for the whole window).
pub fn rhythm(kw: &[f32], cal: &Calendar, from: usize) -> Rhythm {
    rhythm_with(kw, cal, from, None, &mut Vec::new())
}

/// [`rhythm`] with the day stats of the row when known (see [`hourly_within_day_into`]);
/// `hourly` is scratch.
pub fn rhythm_with(
    kw: &[f32],
    cal: &Calendar,
    from: usize,
    pre: Option<(&[std::ops::Range<usize>], &DayStats)>,
    hourly: &mut Vec<f32>,
) -> Rhythm {
    let own;
    let sums = match pre {
        // The day stats' pass added every slot from the first.
        Some((_, stats)) if from == 0 => &stats.slots,
        _ => {
            let from = from.min(kw.len());
            let mut t = SlotSums::default();
            let slots = kw[from..]
                .iter()
                .zip(&cal.hour[from..])
                .zip(&cal.class[from..]);
            for ((&v, &h), &c) in slots {
                t.add(v, h, c);
            }
            own = t;
            &own
        }
    };
    let SlotSums {
        hour_sum,
        hour_n,
        night,
        night_n,
        day,
        day_n,
        we,
        we_n,
        wd,
        wd_n,
    } = *sums;
    let mut profile_buf = [0f64; 24];
    let mut n_profile = 0;
    for h in 0..24 {
        if hour_n[h] > 0 {
            profile_buf[n_profile] = hour_sum[h] / f64::from(hour_n[h]);
            n_profile += 1;
        }
    }
    let profile = &profile_buf[..n_profile];
    let ratio = |a: f64, an: u32, b: f64, bn: u32| {
        if an == 0 || bn == 0 || b <= 0.0 {
            f32::NAN
        } else {
            ((a / f64::from(an)) / (b / f64::from(bn))) as f32
        }
    };
    let diurnal_amp = if profile.len() >= 12 {
        let mean = profile.iter().sum::<f64>() / profile.len() as f64;
        let (lo, hi) = profile
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
        if mean > 0.0 {
            ((hi - lo) / mean) as f32
        } else {
            f32::NAN
        }
    } else {
        f32::NAN
    };
    // On hourly means, so the same home gives the same figures at 15, 30 or 60 minutes (finer
    // readings carry more slot-to-slot noise, which would lower the correlation).
    let spd = cal.slots_per_day.max(1);
    let per_hour = (spd / 24).max(1);
    hourly_within_day_into(kw, cal, from, per_hour, pre, hourly);
    let lag = (spd / per_hour).max(1);
    let [acf_day, acf_week] = autocorrelations(hourly, [lag, 7 * lag]);
    Rhythm {
        diurnal_amp,
        acf_day,
        acf_week,
        night_day_ratio: ratio(night, night_n, day, day_n),
        weekend_ratio: ratio(we, we_n, wd, wd_n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::level::tests::random_row;
    use crate::grid::TimeGrid;

    fn naive_acf(x: &[f32], lag: usize) -> f32 {
        let pairs: Vec<(f64, f64)> = (0..x.len() - lag)
            .filter(|&i| !x[i].is_nan() && !x[i + lag].is_nan())
            .map(|i| (f64::from(x[i]), f64::from(x[i + lag])))
            .collect();
        let n = pairs.len() as f64;
        let ma = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let mb = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let cov: f64 = pairs.iter().map(|p| (p.0 - ma) * (p.1 - mb)).sum::<f64>();
        let va: f64 = pairs.iter().map(|p| (p.0 - ma).powi(2)).sum::<f64>();
        let vb: f64 = pairs.iter().map(|p| (p.1 - mb).powi(2)).sum::<f64>();
        (cov / (va * vb).sqrt()) as f32
    }

    #[test]
    fn autocorrelation_matches_naive_reference() {
        for seed in 0..30 {
            let row = random_row(seed, 48 * 14);
            for lag in [1, 48, 336] {
                let (a, b) = (autocorrelation(&row, lag), naive_acf(&row, lag));
                assert!((a - b).abs() < 1e-3, "seed {seed} lag {lag}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn hourly_within_day_equals_the_two_step_reference() {
        let grid = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 900,
            n_slots: 96 * 9,
        };
        let cal = Calendar::new(&grid, chrono_tz::UTC);
        let row = random_row(5, grid.n_slots);
        for from in [0, 96 * 2] {
            let a = hourly_within_day(&row, &cal, from, 4);
            let b = hourly_means(&within_day(&row, &cal, from), 4);
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert!(x.is_nan() && y.is_nan() || (x - y).abs() < 1e-4, "{x} {y}");
            }
        }
    }

    #[test]
    fn household_has_rhythm_and_rig_has_none() {
        let grid = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 1800,
            n_slots: 48 * 14,
        };
        let cal = Calendar::new(&grid, chrono_tz::UTC);
        let house: Vec<f32> = (0..grid.n_slots)
            .map(|s| {
                if (36..44).contains(&(s % 48)) {
                    2.0
                } else {
                    0.2
                }
            })
            .collect();
        let r = rhythm(&house, &cal, 0);
        assert!(r.diurnal_amp > 3.0 && r.acf_day > 0.99, "{r:?}");
        let rig = vec![3.25f32; grid.n_slots];
        let r = rhythm(&rig, &cal, 0);
        assert!(r.diurnal_amp.abs() < 1e-6 && r.acf_day == 0.0, "{r:?}");
        assert!((r.night_day_ratio - 1.0).abs() < 1e-6);
    }
}
