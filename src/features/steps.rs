//! Steps: when the daily floor jumped, by how much, and whether the jump is a whole number of
//! mining devices. A rig's onset is a step up of about n x device kW that stays; capacity is often
//! added later in a second step (DOMAIN.md).
//!
//! Input: the daily-floor series (`NaN` for uncovered days) and, for the onset time, the kW row
//! and the calendar's day ranges. Output: the best single mean shift ([`Step`]), the slot where
//! it happened ([`onset_slot`]) and the best device fit ([`device_fit`]).

/// Days required on each side of a step.
pub const MIN_SEGMENT_DAYS: usize = 2;
/// Noise floor of the daily floor (kW): a perfectly flat synthetic series must not give an
/// infinite t statistic. 20 W is below any device and above meter resolution.
pub const NOISE_FLOOR_KW: f64 = 0.02;
/// A step up counts as an onset (and shape is then measured since it) from this size (kW) and
/// t statistic: a third of the smallest ASIC, and well clear of day-to-day noise. Scoring has
/// its own, stricter thresholds for calling an onset in a reason.
pub const MIN_STEP_KW: f32 = 0.3;
pub const MIN_STEP_T: f32 = 4.0;
/// Capacity added later counts from this share of the level it adds to: a few percent of a
/// 20 kW rig is noise or a household appliance, not another device.
pub const GROWTH_MIN_SHARE: f32 = 0.1;
/// Rolling window (hours) whose minimum must clear the mid level at the onset slot.
pub const ONSET_HOLD_HOURS: f32 = 3.0;

/// The best single shift in mean of the daily floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Index of the first day of the new level.
    pub day: usize,
    pub before_kw: f32,
    pub after_kw: f32,
    /// Welch-like t statistic of the shift (positive for a step up).
    pub t: f32,
}

impl Step {
    pub fn size_kw(&self) -> f32 {
        self.after_kw - self.before_kw
    }

    /// Whether this is an onset worth measuring from ([`MIN_STEP_KW`], [`MIN_STEP_T`]).
    pub fn is_onset(&self) -> bool {
        self.size_kw() >= MIN_STEP_KW && self.t >= MIN_STEP_T
    }
}

/// Finds the split maximising the t statistic of a step up (O(days), prefix sums).
pub fn best_step(daily: &[f32]) -> Option<Step> {
    let x = daily.iter().map(|&v| f64::from(v));
    super::changepoint::best_split_of(x, MIN_SEGMENT_DAYS, NOISE_FLOOR_KW, true).map(|s| Step {
        day: s.at,
        before_kw: s.before as f32,
        after_kw: s.after as f32,
        t: s.t as f32,
    })
}

/// The rig's first onset and any later growth step. The best step may be capacity added
/// weeks after the start (DOMAIN.md: "capacity is often added in increments"), so an earlier
/// significant step before it is the onset and the best one the growth; else a significant
/// step after the best one is the growth.
/// The slot a load came on, when day `day`'s value is the first at its "on" level: from the
/// day before (a load switched on mid-day leaves that day's floor low), the first slot it holds
/// the midpoint of `off_kw` and `on_kw` ([`onset_slot`]); the start of the window on day 0.
pub fn came_on_slot(
    kw: &[f32],
    days: &[std::ops::Range<usize>],
    day: usize,
    off_kw: f32,
    on_kw: f32,
    interval_hours: f32,
) -> usize {
    match days.get(day) {
        Some(r) if day == 0 => r.start,
        Some(_) => {
            let on = Step {
                day,
                before_kw: off_kw,
                after_kw: on_kw,
                t: f32::INFINITY,
            };
            onset_slot(kw, days, &on, interval_hours)
        }
        None => 0,
    }
}

pub fn onset_and_growth(daily: &[f32]) -> (Option<Step>, Option<Step>) {
    let Some(best) = best_step(daily) else {
        return (None, None);
    };
    if !best.is_onset() {
        return (Some(best), None);
    }
    if let Some(early) = best_step(&daily[..best.day]).filter(Step::is_onset) {
        // The growth is measured from the level between the two steps.
        let mut growth = best;
        let between = daily[early.day..best.day]
            .iter()
            .copied()
            .filter(|v| !v.is_nan());
        let n = between.clone().count();
        if n > 0 {
            growth.before_kw = between.sum::<f32>() / n as f32;
        }
        return (Some(early), Some(growth));
    }
    let later = best_step(&daily[best.day..])
        .map(|mut s| {
            s.day += best.day;
            s
        })
        .filter(|s| s.is_onset() && s.size_kw() >= GROWTH_MIN_SHARE * s.before_kw);
    (Some(best), later)
}

/// The slot of a step's onset: the first slot, from the day before the step day to the step
/// day's end, from which the load stays above the mid level for [`ONSET_HOLD_HOURS`].
pub fn onset_slot(
    kw: &[f32],
    days: &[std::ops::Range<usize>],
    step: &Step,
    interval_hours: f32,
) -> usize {
    let from = days[step.day.saturating_sub(1)].start;
    let to = days[step.day].end;
    let mid = (step.before_kw + step.after_kw) / 2.0;
    came_on_within(kw, from..to, mid, interval_hours).unwrap_or(days[step.day].start)
}

/// The first slot of `slots` from which `kw` stays at or above `mid` for
/// [`ONSET_HOLD_HOURS`] (missing readings neither break nor make the hold), if any.
pub fn came_on_within(
    kw: &[f32],
    slots: std::ops::Range<usize>,
    mid: f32,
    interval_hours: f32,
) -> Option<usize> {
    let hold = (ONSET_HOLD_HOURS / interval_hours).round().max(1.0) as usize;
    (slots.start..slots.end.min(kw.len())).find(|&s| {
        // `kw[s]` itself is present, so the window has a present value; all of those hold.
        let window = &kw[s..(s + hold).min(kw.len())];
        !kw[s].is_nan() && window.iter().all(|&v| v.is_nan() || v >= mid)
    })
}

/// Mining devices of the catalogue (DOMAIN.md), kW at the wall: name and power.
pub const DEVICES: [(&str, f32); 7] = [
    ("Antminer S9", 1.36),
    ("Antminer S17", 2.3),
    ("Antminer S19j Pro", 2.95),
    ("Antminer S19", 3.25),
    ("Whatsminer M30S++", 3.4),
    ("Antminer S21", 3.5),
    ("Avalon Mini 3", 0.8),
];

/// A device multiple "fits" within this relative miss (1-3% noise, a household on top).
pub const FIT_TOLERANCE: f32 = 0.12;
/// Home units (Avalon Mini class) are only a plausible explanation of totals up to this (kW).
pub const HOME_UNIT_MAX_TOTAL_KW: f32 = 3.0;

/// The device model and count explaining `kw`, and the relative miss (0 = an exact multiple,
/// 0.5 = halfway between two counts): among models whose multiple fits within
/// [`FIT_TOLERANCE`], the fewest devices, then the smallest miss (at large totals every model
/// fits some count, and an inspector wants the parsimonious reading); else the nearest
/// multiple. Counts 1 to 10,000.
pub fn device_fit(kw: f32) -> Option<(&'static str, u32, f32)> {
    if kw.is_nan() || kw <= 0.0 {
        return None;
    }
    let fits: Vec<(&'static str, f32, u32, f32)> = DEVICES
        .iter()
        .filter(|&&(_, dkw)| dkw >= 1.0 || kw <= HOME_UNIT_MAX_TOTAL_KW)
        .map(|&(name, dkw)| {
            let n = (kw / dkw).round().clamp(1.0, 10_000.0);
            (name, dkw, n as u32, (kw - n * dkw).abs() / dkw)
        })
        .collect();
    let good = fits
        .iter()
        .filter(|f| f.3 <= FIT_TOLERANCE)
        .min_by(|a, b| a.2.cmp(&b.2).then(a.3.total_cmp(&b.3)));
    good.or_else(|| fits.iter().min_by(|a, b| a.3.total_cmp(&b.3)))
        .map(|f| (f.0, f.2, f.3))
}

/// Most steps up a rig's floor is split at when its wander is measured: an onset and up to
/// three later batches of devices (rigs grow in 2-4 steps).
pub const MAX_STEPS: usize = 4;

/// Day indices where `daily` steps up, found by binary segmentation: each segment is split at
/// its best step up while that step is an onset ([`Step::is_onset`]) adding at least
/// [`GROWTH_MIN_SHARE`] of the level before it, up to [`MAX_STEPS`] cuts, in day order. A
/// rig's floor moves only at these; heating drifts between them (and mostly down as well as
/// up), which no cut absorbs.
pub fn step_cuts(daily: &[f32]) -> Cuts {
    let mut cuts = Cuts {
        n: 0,
        at: [0; MAX_STEPS],
    };
    // Segments still to split (a stack: each cut replaces one by two, so it never holds more
    // than one more than the cuts made).
    let mut open = [(0usize, 0usize); MAX_STEPS + 1];
    open[0] = (0, daily.len());
    let mut n_open = 1;
    while n_open > 0 {
        n_open -= 1;
        let (a, b) = open[n_open];
        if cuts.n >= MAX_STEPS {
            break;
        }
        let Some(s) = best_step(&daily[a..b]) else {
            continue;
        };
        if s.is_onset() && s.size_kw() >= GROWTH_MIN_SHARE * s.before_kw.max(0.0) {
            cuts.at[cuts.n] = a + s.day;
            cuts.n += 1;
            open[n_open] = (a, a + s.day);
            open[n_open + 1] = (a + s.day, b);
            n_open += 2;
        }
    }
    cuts.at[..cuts.n].sort_unstable();
    cuts
}

/// The day indices [`step_cuts`] found (at most [`MAX_STEPS`], in day order): a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cuts {
    n: usize,
    at: [usize; MAX_STEPS],
}

impl std::ops::Deref for Cuts {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.at[..self.n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_best(daily: &[f32]) -> Option<(usize, f32)> {
        let valid: Vec<(usize, f64)> = daily
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .map(|(d, v)| (d, f64::from(*v)))
            .collect();
        let n = valid.len();
        let mut best: Option<(usize, f32)> = None;
        for k in MIN_SEGMENT_DAYS..=n.saturating_sub(MIN_SEGMENT_DAYS) {
            let a: Vec<f64> = valid[..k].iter().map(|x| x.1).collect();
            let b: Vec<f64> = valid[k..].iter().map(|x| x.1).collect();
            let (ma, mb) = (
                a.iter().sum::<f64>() / a.len() as f64,
                b.iter().sum::<f64>() / b.len() as f64,
            );
            let ss: f64 = a.iter().map(|x| (x - ma).powi(2)).sum::<f64>()
                + b.iter().map(|x| (x - mb).powi(2)).sum::<f64>();
            let sd = (ss / (n as f64 - 2.0).max(1.0)).sqrt().max(NOISE_FLOOR_KW);
            let t =
                ((mb - ma) / (sd * (1.0 / a.len() as f64 + 1.0 / b.len() as f64).sqrt())) as f32;
            if best.is_none_or(|x| t > x.1) {
                best = Some((valid[k].0, t));
            }
        }
        best
    }

    #[test]
    fn best_step_matches_naive_reference() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        for _ in 0..200 {
            let d = rng.gen_range(4..60);
            let at = rng.gen_range(0..d);
            let size = rng.gen_range(0.0..5.0f32);
            let daily: Vec<f32> = (0..d)
                .map(|i| {
                    if rng.gen_bool(0.1) {
                        f32::NAN
                    } else {
                        0.2 + rng.gen_range(-0.05..0.05) + if i >= at { size } else { 0.0 }
                    }
                })
                .collect();
            let fast = best_step(&daily).map(|s| (s.day, s.t));
            let slow = naive_best(&daily);
            match (fast, slow) {
                (Some(a), Some(b)) => {
                    assert_eq!(a.0, b.0);
                    assert!(
                        (a.1 - b.1).abs() <= 1e-3 * b.1.abs().max(1.0),
                        "{a:?} {b:?}"
                    );
                }
                (a, b) => assert_eq!(a.map(|x| x.0), b.map(|x| x.0)),
            }
        }
    }

    #[test]
    fn step_onset_is_found_to_the_slot() {
        // 10 days half-hourly; household at 0.2 kW; a 6.5 kW rig from day 6 at 14:30.
        let days: Vec<std::ops::Range<usize>> = (0..10).map(|d| d * 48..(d + 1) * 48).collect();
        let onset = 6 * 48 + 29;
        let kw: Vec<f32> = (0..480)
            .map(|s| if s >= onset { 6.7 } else { 0.2 })
            .collect();
        let daily: Vec<f32> = days
            .iter()
            .map(|r| kw[r.clone()].iter().cloned().fold(f32::INFINITY, f32::min))
            .collect();
        let step = best_step(&daily).unwrap();
        assert_eq!(step.day, 7, "day 6 still has a 0.2 kW morning");
        assert_eq!(onset_slot(&kw, &days, &step, 0.5), onset);
        assert!((step.size_kw() - 6.5).abs() < 0.01);
    }

    #[test]
    fn step_cuts_find_every_batch_of_devices_and_no_drift() {
        // 0.3 kW household, then 3.3, 6.6 and 9.9 kW on days 5, 12 and 20 (2% noise).
        let noise = |d: usize| 1.0 + 0.02 * ((d * 7 % 5) as f32 - 2.0) / 2.0;
        let ramp: Vec<f32> = (0..30)
            .map(|d| {
                let kw = match d {
                    0..=4 => 0.3,
                    5..=11 => 3.6,
                    12..=19 => 6.9,
                    _ => 10.2,
                };
                kw * noise(d)
            })
            .collect();
        assert_eq!(*step_cuts(&ramp), [5, 12, 20]);
        // Heating drifting down over the weeks, with day-to-day wander: no step up.
        let drift: Vec<f32> = (0..30)
            .map(|d| 2.6 - 0.04 * d as f32 + 0.1 * ((d * 3 % 4) as f32 - 1.5))
            .collect();
        assert!(step_cuts(&drift).is_empty(), "{:?}", &*step_cuts(&drift));
    }

    #[test]
    fn growth_rig_onset_is_the_first_step() {
        // 0.2 kW home; 1 device from day 5, 3 more from day 15: the bigger step is the growth.
        let daily: Vec<f32> = (0..30)
            .map(|d| 0.2 + if d >= 5 { 3.25 } else { 0.0 } + if d >= 15 { 9.75 } else { 0.0 })
            .collect();
        let (first, growth) = onset_and_growth(&daily);
        assert_eq!(first.map(|s| s.day), Some(5));
        assert_eq!(growth.map(|s| s.day), Some(15));
        assert!((growth.unwrap().size_kw() - 9.75).abs() < 0.1);
        // One step only: no growth.
        let one: Vec<f32> = (0..30)
            .map(|d| 0.2 + if d >= 12 { 6.5 } else { 0.0 })
            .collect();
        let (first, growth) = onset_and_growth(&one);
        assert_eq!((first.map(|s| s.day), growth), (Some(12), None));
        // A 0.4 kW wobble on a 22 kW rig is not capacity added.
        let wobble: Vec<f32> = (0..30)
            .map(|d| 0.1 + if d >= 5 { 22.0 } else { 0.0 } + if d >= 11 { 0.4 } else { 0.0 })
            .collect();
        let (first, growth) = onset_and_growth(&wobble);
        assert_eq!((first.map(|s| s.day), growth), (Some(5), None));
    }

    #[test]
    fn device_multiples() {
        let (name, n, err) = device_fit(6.5).unwrap();
        assert_eq!((name, n), ("Antminer S19", 2));
        assert!(err < 1e-3);
        assert!(device_fit(0.0).is_none() && device_fit(f32::NAN).is_none());
        assert_eq!(device_fit(1.37).unwrap().1, 1);
        // 19.5 kW: 6 x S19 (3.25), not 24 home units.
        assert_eq!(
            device_fit(19.5).map(|f| (f.0, f.1)),
            Some(("Antminer S19", 6))
        );
        assert_eq!(device_fit(0.8).unwrap().0, "Avalon Mini 3");
    }
}
