//! Interval inference: which regular interval a meter's timestamps lie on, from a few of them,
//! in any order. Pure functions of sorted distinct timestamps.

use rustc_hash::FxHashMap;

/// Meter intervals considered: whole minutes that divide a day, largest first.
pub(crate) fn day_divisors_desc() -> impl Iterator<Item = u32> {
    (1..=1440u32)
        .rev()
        .filter(|m| 1440 % m == 0)
        .map(|m| m * 60)
}

/// How many of `ts` share the most common phase on an `interval` lattice, and that phase.
pub(crate) fn lattice_share(ts: &[i64], interval: u32) -> (usize, i64) {
    let iv = i64::from(interval);
    let mut counts: FxHashMap<i64, usize> = FxHashMap::default();
    for t in ts {
        *counts.entry(t.rem_euclid(iv)).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or((0, 0), |(phase, n)| (n, phase))
}

/// Readings in a consecutive run that settle a meter's interval. Fewer prove little: three
/// readings 8 hours apart may be a sparse half-hourly meter, four hourly ones a gappy one.
pub const MIN_RUN: usize = 8;

/// The interval of a consecutive run (sorted distinct `ts`, at least [`MIN_RUN`]): every step
/// equal to one standard interval (a divisor of a day). This is evidence of the meter's interval
/// on its own, whatever else arrives; meters without such a run are decided on all their
/// (first 64) readings, so the outcome does not depend on the order they came in.
pub(crate) fn consecutive_interval(ts: &[i64]) -> Option<(u32, i64)> {
    if ts.len() < MIN_RUN {
        return None;
    }
    let step = ts[1] - ts[0];
    (step >= 60 && 86_400 % step == 0 && ts.windows(2).all(|w| w[1] - w[0] == step))
        .then(|| (step as u32, ts[0].rem_euclid(step)))
}

/// The largest standard interval on whose lattice at least `share` of `ts` lie: order does not
/// matter, a stray reading does not shrink the interval, gaps do not stretch it. With no
/// interval reaching `share`, the one with the best agreement (at least 5 minutes).
pub(crate) fn voted_interval(ts: &[i64], share: f64) -> Option<(u32, i64)> {
    if ts.len() < 2 {
        return None;
    }
    let need = ((ts.len() as f64) * share).ceil() as usize;
    day_divisors_desc()
        .find_map(|iv| {
            let (n, phase) = lattice_share(ts, iv);
            (n >= 2 && n >= need).then_some((iv, phase))
        })
        .or_else(|| {
            day_divisors_desc()
                .filter(|&iv| iv >= 300)
                .map(|iv| (iv, lattice_share(ts, iv)))
                .max_by_key(|&(iv, (n, _))| (n, iv))
                .map(|(iv, (_, phase))| (iv, phase))
        })
}

/// The interval of a meter's first readings: a consecutive run, else a 3-in-4 vote.
pub(crate) fn infer_interval(ts: &[i64]) -> Option<(u32, i64)> {
    consecutive_interval(ts).or_else(|| voted_interval(ts, 0.75))
}

/// The most common value (ties: the smallest).
pub(crate) fn mode(it: impl Iterator<Item = i64>) -> Option<i64> {
    let mut counts: FxHashMap<i64, u64> = FxHashMap::default();
    for v in it {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_inference_ignores_order_gaps_and_strays() {
        let half = |k: i64| 1_700_000_000 - 1_700_000_000 % 1800 + k * 1800;
        let sorted: Vec<i64> = (0..8).map(half).collect();
        assert_eq!(infer_interval(&sorted).map(|x| x.0), Some(1800));
        let mut shuffled: Vec<i64> = [37, 2, 811, 90, 5, 440, 1200, 63].map(half).to_vec();
        shuffled.sort_unstable();
        assert_eq!(consecutive_interval(&shuffled), None, "not a run");
        assert_eq!(infer_interval(&shuffled).map(|x| x.0), Some(1800));
        // 8 random half-hours that happen to be all on the hour look hourly; 64 do not.
        let mut even: Vec<i64> = [2, 40, 812, 90, 6, 440, 1200, 64].map(half).to_vec();
        even.sort_unstable();
        assert_eq!(voted_interval(&even, 0.9).map(|x| x.0), Some(3600));
        let mut many: Vec<i64> = (0..64).map(|k| half((k * 37) % 1440)).collect();
        many.sort_unstable();
        assert_eq!(voted_interval(&many, 0.9).map(|x| x.0), Some(1800));
        // A stray reading 7 minutes past: 7 of 8 still on the 30-minute lattice.
        let mut stray = sorted.clone();
        stray[3] += 420;
        assert_eq!(infer_interval(&stray).map(|x| x.0), Some(1800));
        // Hourly data is hourly, quarter-hourly is quarter-hourly.
        let hourly: Vec<i64> = (0..8).map(|k| half(2 * k)).collect();
        assert_eq!(infer_interval(&hourly).map(|x| x.0), Some(3600));
        let quarter: Vec<i64> = (0..8).map(|k| half(0) + k * 900).collect();
        assert_eq!(infer_interval(&quarter).map(|x| x.0), Some(900));
        // Never an interval that does not divide a day (00:00 and 03:30 -> 30 min, not 210).
        assert_eq!(infer_interval(&[half(0), half(7)]).map(|x| x.0), Some(1800));
        // Short runs are no evidence: two readings a day apart must not make a daily meter.
        assert_eq!(consecutive_interval(&[half(0), half(48)]), None);
        assert_eq!(consecutive_interval(&[half(0), half(16), half(32)]), None);
        assert_eq!(infer_interval(&[half(0)]), None);
    }
}
