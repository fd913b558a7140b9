//! Outages of a load that holds a level: a rig has no power switch, so after a grid fault or a
//! tripped breaker it is back at the same draw within minutes (DOMAIN.md). [`mask_outages`]
//! finds them, takes them out of the floors, means and rhythm (an outage day is not a day off)
//! and counts them (the `snapbacks` feature, named in the reasons).
//!
//! Input: a meter's kW row (`NaN` = missing) and its interval; output: a count, or a masked copy
//! of the row.

/// An outage: load below this share of the level it fell from...
pub const OUTAGE_SHARE: f32 = 0.3;
/// ...and back within this share of it (or [`OUTAGE_LEVEL_TOLERANCE_KW`]).
pub const SNAPBACK_TOLERANCE: f32 = 0.1;
/// Floors below this (kW) are not worth an outage test (a household's floor is noise).
pub const OUTAGE_MIN_FLOOR_KW: f32 = 0.5;

/// Longest outage (hours) [`mask_outages`] takes out of the floors: a grid fault or a tripped
/// breaker is fixed within a working day; a load off for longer is off by choice (a night-tariff
/// rig's 16 dark hours, a price-driven rig's days off).
pub const OUTAGE_MASK_MAX_HOURS: f32 = 12.0;
/// Hours on each side of an outage whose lowest reading is the level it fell from and came
/// back to.
pub const OUTAGE_CONTEXT_HOURS: f32 = 2.0;
/// How far the level after an outage may differ from the level before and still be the same
/// load: [`SNAPBACK_TOLERANCE`] of it, or this much (kW) of a household's wandering floor.
pub const OUTAGE_LEVEL_TOLERANCE_KW: f32 = 0.2;
/// Outages are exceptions: a load that drops on more than this share of its days does so on a
/// schedule (a rig curtailed every evening), which is its form, not an outage.
pub const OUTAGE_MAX_DAY_SHARE: f32 = 0.5;

/// Outages are rare: a load dark for more than this share of the time since its first outage
/// is switched, not failing (grids are available well over 99% of the time; even a feeder with
/// weekly faults of hours loses a few percent).
pub const OUTAGE_MAX_TIME_SHARE: f32 = 0.1;

/// Outages of a load that holds a level: runs of at most [`OUTAGE_MASK_MAX_HOURS`] below
/// [`OUTAGE_SHARE`] of the lowest reading of the [`OUTAGE_CONTEXT_HOURS`] before them (at least
/// [`OUTAGE_MIN_FLOOR_KW`]), after which the lowest reading of the same span is back at that
/// level. A rig has no power switch: after a grid or breaker outage it returns to the same
/// draw within minutes (DOMAIN.md), so an outage says nothing of its level. Writes into
/// `out` a copy of `kw` with those runs (and the partial readings either side) missing, and
/// returns how many there were; none are masked, and 0 returned, when loads drop on more than
/// [`OUTAGE_MAX_DAY_SHARE`] of the days since the first outage (a schedule) or the outages
/// take more than [`OUTAGE_MAX_TIME_SHARE`] of that time (a load switched off and on). Floors computed on `out` are the level's,
/// not the outage's: a day with a 12-hour outage is a day too short to judge, not a day off.
pub fn mask_outages(kw: &[f32], interval_hours: f32, n_days: usize, out: &mut Vec<f32>) -> u32 {
    let hold = (OUTAGE_CONTEXT_HOURS / interval_hours).round().max(1.0) as usize;
    let max_run = (OUTAGE_MASK_MAX_HOURS / interval_hours).round().max(1.0) as usize;
    let lowest = |r: std::ops::Range<usize>| {
        kw[r]
            .iter()
            .filter(|v| !v.is_nan())
            .fold(f32::INFINITY, |a, &b| a.min(b))
    };
    let mut runs: Vec<(usize, usize)> = Vec::new();
    // Every sharp drop from a held level and how long it stayed down, whether or not it came
    // back to the level: cycling (heating, a boiler), schedules and switching drop often or
    // stay down long.
    let mut drops: Vec<(usize, usize)> = Vec::new();
    let mut s = hold + 1;
    while s + 1 < kw.len() {
        let v = kw[s];
        // A sharp fall from the reading before or the one before that (a partial reading
        // where the outage began mid-interval): cheap, and rare in a household's load.
        let fell = v < OUTAGE_SHARE * kw[s - 1] || v < OUTAGE_SHARE * kw[s - 2];
        if !fell {
            s += 1;
            continue;
        }
        let before = lowest(s - 1 - hold..s - 1);
        if !(before.is_finite() && before >= OUTAGE_MIN_FLOOR_KW && v < OUTAGE_SHARE * before) {
            s += 1;
            continue;
        }
        let low = OUTAGE_SHARE * before;
        let mut e = s;
        while e < kw.len() && kw[e] < low {
            e += 1;
        }
        drops.push((s, e - s));
        // Back at the same level, and at once (within a partial reading): rooftop solar
        // takes the net load down and up again over hours.
        if e - s <= max_run && e + 1 + hold <= kw.len() {
            let after = lowest(e + 1..e + 1 + hold);
            let tol = (SNAPBACK_TOLERANCE * before).max(OUTAGE_LEVEL_TOLERANCE_KW);
            let back = kw[e].max(kw[e + 1]) >= before - tol;
            if back && (after - before).abs() <= tol {
                runs.push((s - 1, e + 1));
            }
        }
        s = e.max(s + 1);
    }
    // The drops on the days the level was there to drop from: since the first outage.
    let Some(&(first, _)) = runs.first() else {
        return 0;
    };
    let slots_per_day = kw.len() as f32 / n_days.max(1) as f32;
    let level_days = ((kw.len() - first) as f32 / slots_per_day).max(2.0);
    let since = drops.iter().filter(|d| d.0 > first).count();
    let dark: usize = drops.iter().filter(|d| d.0 > first).map(|d| d.1).sum();
    if since as f32 > OUTAGE_MAX_DAY_SHARE * level_days
        || dark as f32 > OUTAGE_MAX_TIME_SHARE * (kw.len() - first) as f32
    {
        return 0;
    }
    out.clear();
    out.extend_from_slice(kw);
    for (a, b) in &runs {
        out[*a..*b].fill(f32::NAN);
    }
    runs.len() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_leave_the_floors_but_schedules_and_solar_stay() {
        // Ten days of a 3 kW rig at 30 min (48 slots a day) with two outages.
        let mut row = vec![3.0f32; 480];
        for (i, v) in row.iter_mut().enumerate() {
            *v += 0.05 * ((i * 7919) % 13) as f32 / 13.0; // noise above the level
        }
        row[100..120].fill(0.0); // 10 h at zero, back at the level
        row[300] = 1.5; // an outage starting mid-interval: a partial reading...
        row[301..304].fill(0.05); // ...then 1.5 h at a household's standby
        let mut out = Vec::new();
        assert_eq!(mask_outages(&row, 0.5, 10, &mut out), 2);
        assert!(out[99].is_nan() && out[100..121].iter().all(|v| v.is_nan()));
        assert!(out[300..305].iter().all(|v| v.is_nan()));
        assert_eq!(out.iter().filter(|v| v.is_nan()).count(), 22 + 5);
        assert_eq!(out[0], row[0]);

        // Too long to be an outage: a load off for 20 hours is off by choice.
        let mut long = vec![3.0f32; 480];
        long[100..140].fill(0.0);
        assert_eq!(mask_outages(&long, 0.5, 10, &mut out), 0);

        // Back at another level: not the same load.
        let mut other = vec![3.0f32; 480];
        other[100..110].fill(0.0);
        other[110..].fill(1.5);
        assert_eq!(mask_outages(&other, 0.5, 10, &mut out), 0);

        // Off for 10 hours every third day: switched (a price-driven rig), kept.
        let mut switched = vec![3.0f32; 480];
        for d in (0..10).step_by(3) {
            switched[d * 48 + 20..d * 48 + 40].fill(0.1);
        }
        assert_eq!(mask_outages(&switched, 0.5, 10, &mut out), 0);

        // Off for three hours every evening: a schedule (a curtailed rig), kept.
        let mut daily = vec![3.0f32; 480];
        for d in 0..10 {
            daily[d * 48 + 34..d * 48 + 40].fill(0.2);
        }
        assert_eq!(mask_outages(&daily, 0.5, 10, &mut out), 0);

        // Net load under rooftop solar: down and up again over hours, not at once.
        let mut solar = vec![1.0f32; 480];
        let ramp = [
            0.8, 0.55, 0.35, 0.2, 0.1, 0.0, 0.0, 0.1, 0.2, 0.35, 0.55, 0.8,
        ];
        solar[200..212].copy_from_slice(&ramp);
        assert_eq!(mask_outages(&solar, 0.5, 10, &mut out), 0);

        // A meter gap is not a level to fall from: the outage just after one is judged
        // from the readings there are, and another outage later is not lost with it.
        let mut gap = vec![3.0f32; 480];
        gap[90..99].fill(f32::NAN);
        gap[100..104].fill(0.1);
        gap[300..310].fill(0.0);
        assert_eq!(mask_outages(&gap, 0.5, 10, &mut out), 2);

        // A household's floor is not tested.
        let mut home = vec![0.3f32; 480];
        home[100..104].fill(0.0);
        assert_eq!(mask_outages(&home, 0.5, 10, &mut out), 0);
    }
}
