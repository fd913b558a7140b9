//! The days an intermittent rig is on.
//!
//! An operator who switches a rig by the day (cheap days, a hot week, a neighbour's
//! complaint) leaves it on for whole runs of a day or more at one level, from the hour it was
//! switched, and off at the household's floor in between. Two facts of that physics are used
//! here that a calendar day's floor misses:
//! - the run begins at the operator's hour, not at midnight: a rig switched at 18:00 for a day
//!   and a half never holds a whole calendar day, so every "day" of it reads as half off. The
//!   days are taken from the hour (in steps of [`BLOCK_HOURS`]) that separates the "on" days
//!   most sharply from the rest;
//! - the "on" days sit at one level above the rest, with a gap between: the split is the
//!   widest gap between the sorted daily floors that leaves a minority of days above it. Days
//!   a heated home is busier than usual form no such gap (heating lifts a floor by degrees);
//!   a second, higher level (a rig switched on above a heated home's cold days) does;
//! - it is switched on and off again: the "on" days come in more than one run, with days off
//!   between. One run to the end of the window is a step (the 24/7 form judges it), one run
//!   in the middle a spell of weather.

use std::ops::Range;

use super::level;
use super::Calendar;

/// Length (hours) of the blocks a day is cut into; a switching hour is found to this step.
pub const BLOCK_HOURS: usize = 3;
const BLOCKS: usize = 24 / BLOCK_HOURS;
/// Share of a block's slots that must be present for its low to count.
const MIN_BLOCK_COVERAGE: f32 = 0.5;
/// Blocks of a day (of [`BLOCKS`]) that must have a low for the day to have a floor.
const MIN_DAY_BLOCKS: usize = BLOCKS - 2;
/// Days with a floor a split needs.
const MIN_DAYS: usize = 7;
/// "On" days a split leaves at least (one or two busy days are not a pattern), and the share
/// of the days with a floor they may be at most (a minority: the others are the household's).
pub const MIN_ON_DAYS: usize = 3;
pub const MAX_ON_SHARE: f32 = 0.5;
/// Runs of "on" days a load switched by the day shows at least, and the share of the days since
/// its first "on" day it is off at least.
pub const MIN_ON_RUNS: usize = 2;
pub const MIN_OFF_SHARE_SINCE: f32 = 0.15;

/// The "on" days of a load switched by the day.
#[derive(Debug, Clone, PartialEq)]
pub struct OnDays {
    /// Median floor of the "on" days and of the others (kW).
    pub on_kw: f32,
    pub off_kw: f32,
    /// Share of the days with a floor since the first "on" day that are "on".
    pub share: f32,
    /// Coefficient of variation of the "on" days' floors.
    pub cv: f32,
    /// Slots where the rig first came on: the block of its first run at the "on" level (runs
    /// before its first whole "on" day included) and the block before it.
    pub switched_on: Range<usize>,
}

/// Reused buffers.
#[derive(Debug, Default)]
pub struct OnDaysScratch {
    lows: Vec<f32>,
    starts: Vec<usize>,
    floors: Vec<f32>,
    sorted: Vec<f32>,
    best: Vec<f32>,
}

/// The "on" days of `kw` (kW per slot, local days `days` of calendar `cal`, `hours` per slot),
/// or `None` when no split of its daily floors leaves a minority of days at least `min_gap_kw`
/// above the rest.
pub fn on_days(
    kw: &[f32],
    cal: &Calendar,
    days: &[Range<usize>],
    hours: f32,
    min_gap_kw: f32,
    sc: &mut OnDaysScratch,
) -> Option<OnDays> {
    let n_days = days.len();
    if n_days < MIN_DAYS || hours <= 0.0 {
        return None;
    }
    let nb = n_days * BLOCKS;
    sc.lows.clear();
    sc.lows.resize(nb, f32::NAN);
    sc.starts.clear();
    sc.starts.resize(nb + 1, usize::MAX);
    let need = MIN_BLOCK_COVERAGE * BLOCK_HOURS as f32 / hours;
    // One pass in slot order; a block's low and count are kept in registers until it ends.
    for (d, r) in days.iter().enumerate() {
        let mut cur = usize::MAX;
        let (mut low, mut count) = (f32::INFINITY, 0u32);
        for s in r.clone() {
            let b = d * BLOCKS + usize::from(cal.hour[s]) / BLOCK_HOURS;
            if b != cur {
                if cur != usize::MAX && count as f32 >= need {
                    sc.lows[cur] = low;
                }
                cur = b;
                sc.starts[b] = sc.starts[b].min(s);
                (low, count) = (f32::INFINITY, 0);
            }
            let x = kw[s];
            if !x.is_nan() {
                count += 1;
                low = low.min(x);
            }
        }
        if cur != usize::MAX && count as f32 >= need {
            sc.lows[cur] = low;
        }
    }
    // Blocks without slots (a DST gap) start where the next one does.
    sc.starts[nb] = days.last().map_or(0, |r| r.end);
    for b in (0..nb).rev() {
        if sc.starts[b] == usize::MAX {
            sc.starts[b] = sc.starts[b + 1];
        }
    }
    // No day's floor can exceed the fourth lowest of the blocks' highest lows by hour of day
    // (a day's floor is the second lowest of at least six of its blocks, one per hour of day),
    // nor fall below the lowest low: a household whose blocks never all stand high together
    // has no split to find.
    let mut highest = [f32::NEG_INFINITY; BLOCKS];
    let mut lowest = f32::INFINITY;
    for (b, &x) in sc.lows.iter().enumerate() {
        if !x.is_nan() {
            highest[b % BLOCKS] = highest[b % BLOCKS].max(x);
            lowest = lowest.min(x);
        }
    }
    highest.sort_unstable_by(f32::total_cmp);
    let span = highest[BLOCKS - MIN_DAY_BLOCKS + 1] - lowest;
    if span.is_nan() || span < min_gap_kw {
        return None;
    }
    // Each shift's widest gap leaving a minority of days above it: (gap, shift, split value).
    let mut cands: [(f32, usize, f32); BLOCKS] = [(f32::NEG_INFINITY, 0, 0.0); BLOCKS];
    for (shift, cand) in cands.iter_mut().enumerate() {
        day_floors(&sc.lows, shift, &mut sc.floors);
        sc.sorted.clear();
        sc.sorted
            .extend(sc.floors.iter().copied().filter(|x| !x.is_nan()));
        let n = sc.sorted.len();
        if n < MIN_DAYS {
            continue;
        }
        // Splits leaving `n - i` days above: at least MIN_ON_DAYS, at most MAX_ON_SHARE.
        let lo = ((n as f32 * (1.0 - MAX_ON_SHARE)).ceil() as usize).max(1);
        let hi = n.saturating_sub(MIN_ON_DAYS);
        if lo > hi {
            continue;
        }
        // Only the upper part needs its order (from the value just below the lowest split).
        sc.sorted.select_nth_unstable_by(lo - 1, f32::total_cmp);
        sc.sorted[lo..].sort_unstable_by(f32::total_cmp);
        for i in lo..=hi {
            let gap = sc.sorted[i] - sc.sorted[i - 1];
            if gap > cand.0 {
                *cand = (gap, shift, (sc.sorted[i] + sc.sorted[i - 1]) / 2.0);
            }
        }
    }
    // The widest first; ties go to the earlier shift (midnight first).
    cands.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    cands
        .iter()
        .take_while(|c| c.0 >= min_gap_kw)
        .find_map(|&(_, shift, cut)| switched(sc, shift, cut))
}

/// The "on" days of the days from `shift` split at `cut`, when they are a pattern of
/// switching: on and off again more than once ([`MIN_ON_RUNS`] runs), and off on at least
/// [`MIN_OFF_SHARE_SINCE`] of the days since the first "on" day. A single run of days is a
/// step (judged as one) or a spell of weather.
fn switched(sc: &mut OnDaysScratch, shift: usize, cut: f32) -> Option<OnDays> {
    day_floors(&sc.lows, shift, &mut sc.floors);
    let first = sc.floors.iter().position(|x| *x > cut)?;
    let (mut runs, mut on, mut off, mut prev_on) = (0usize, 0usize, 0usize, false);
    for &x in &sc.floors[first..] {
        if x.is_nan() {
            continue;
        }
        let is_on = x > cut;
        if is_on {
            on += 1;
            if !prev_on {
                runs += 1;
            }
        } else {
            off += 1;
        }
        prev_on = is_on;
    }
    if runs < MIN_ON_RUNS || (off as f32) < MIN_OFF_SHARE_SINCE * (on + off) as f32 {
        return None;
    }
    sc.best.clear();
    sc.best
        .extend(sc.floors.iter().copied().filter(|x| *x > cut));
    let on_cv = crate::stats::cv(&sc.best);
    let [on_kw] = level::quantiles(&mut sc.sorted, &sc.best, [0.5]);
    sc.best.clear();
    sc.best.extend(
        sc.floors
            .iter()
            .copied()
            .filter(|x| !x.is_nan() && *x <= cut),
    );
    let [off_kw] = level::quantiles(&mut sc.sorted, &sc.best, [0.5]);
    // Runs of the rig hold its level (its floor plus the household's lowest), not merely
    // the split between on and off days.
    let run_level = on_kw - RUN_LEVEL_SLACK * (on_kw - off_kw);
    let c = first_run_block(&sc.lows, first * BLOCKS + shift, run_level);
    Some(OnDays {
        on_kw,
        off_kw,
        share: on as f32 / (on + off) as f32,
        cv: on_cv,
        switched_on: sc.starts[c.saturating_sub(1)]..sc.starts[(c + 1).min(sc.lows.len())],
    })
}

/// Blocks in a row at the "on" level that are a run of the rig (6 hours: a household's
/// evening peak lasts one or two); a rig's first run is often shorter than a day (it began at
/// an odd hour and was switched off at the operator's).
pub const RUN_MIN_BLOCKS: usize = 2;
/// Days between two runs of a rig at most (its off runs last a day or two, sometimes three).
pub const RUN_MAX_GAP_DAYS: usize = 4;

/// Share of the on/off gap a rig's run may fall below its "on" level (its noise and the
/// household's floor wandering under it).
pub const RUN_LEVEL_SLACK: f32 = 0.25;

/// The first block of the rig's first run: the run of blocks whose lows are above `level` that
/// holds block `from`, then each earlier run of at least [`RUN_MIN_BLOCKS`] that ends within
/// [`RUN_MAX_GAP_DAYS`] before the last one found. Blocks without a low neither end nor make a
/// run.
fn first_run_block(lows: &[f32], from: usize, level: f32) -> usize {
    let on = |b: usize| lows[b].is_nan() || lows[b] > level;
    let mut c = from.min(lows.len());
    // The day's first block may hold the switch itself.
    while c + 1 < lows.len() && !on(c) {
        c += 1;
    }
    while c > 0 && on(c - 1) {
        c -= 1;
    }
    loop {
        let bound = c.saturating_sub(RUN_MAX_GAP_DAYS * BLOCKS);
        let mut b = c;
        let mut found = None;
        while b > bound {
            if !on(b - 1) {
                b -= 1;
                continue;
            }
            let mut n = 0;
            while b > 0 && on(b - 1) {
                b -= 1;
                n += usize::from(!lows[b].is_nan());
            }
            if n >= RUN_MIN_BLOCKS {
                found = Some(b);
                break;
            }
        }
        match found {
            Some(start) if start < c => c = start,
            _ => return c,
        }
    }
}

/// Floors of the days that begin `shift` blocks after midnight: the second lowest block low
/// of each (one block may hold the switching itself), `NaN` where under [`MIN_DAY_BLOCKS`]
/// blocks have a low. The last, incomplete day of a shift is left out.
fn day_floors(lows: &[f32], shift: usize, out: &mut Vec<f32>) {
    out.clear();
    let mut b = shift;
    while b + BLOCKS <= lows.len() {
        let (mut a, mut c, mut n) = (f32::INFINITY, f32::INFINITY, 0);
        for &x in &lows[b..b + BLOCKS] {
            if x.is_nan() {
                continue;
            }
            n += 1;
            if x < a {
                c = a;
                a = x;
            } else if x < c {
                c = x;
            }
        }
        out.push(if n >= MIN_DAY_BLOCKS { c } else { f32::NAN });
        b += BLOCKS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::TimeGrid;

    /// `n_days` of half-hourly load in UTC: a household floor with an evening bump, plus `rig`
    /// kW during the slots `on` says.
    fn series(n_days: usize, rig: f32, on: impl Fn(usize) -> bool) -> (Vec<f32>, Calendar) {
        let grid = TimeGrid {
            start: 1_704_067_200, // 2024-01-01 00:00 UTC
            interval_secs: 1800,
            n_slots: n_days * 48,
        };
        let cal = Calendar::new(&grid, chrono_tz::UTC);
        let kw = (0..n_days * 48)
            .map(|s| {
                let h = s % 48;
                let house = 0.2 + if (36..44).contains(&h) { 1.0 } else { 0.0 };
                house + if on(s) { rig } else { 0.0 }
            })
            .collect();
        (kw, cal)
    }

    #[test]
    fn a_rig_switched_in_the_evening_is_found_on_its_own_days() {
        // On for 24 h from 18:00 every fourth day: no calendar day is whole.
        let on = |s: usize| (s + 4 * 48 - 36) % (4 * 48) < 48;
        let (kw, cal) = series(35, 2.0, on);
        let days = cal.day_ranges();
        let floors: Vec<f32> = days
            .iter()
            .map(|r| kw[r.clone()].iter().copied().fold(f32::INFINITY, f32::min))
            .collect();
        assert!(floors.iter().all(|&x| x < 0.3), "{floors:?}");
        let mut sc = OnDaysScratch::default();
        let o = on_days(&kw, &cal, &days, 0.5, 0.3, &mut sc).expect("on days");
        assert!((o.on_kw - 2.2).abs() < 0.05, "{o:?}");
        assert!((o.off_kw - 0.2).abs() < 0.05, "{o:?}");
        assert!((0.2..=0.3).contains(&o.share), "{o:?}");
        assert!(o.cv < 0.01, "{o:?}");
        // It came on at 18:00 of day 0.
        assert!(o.switched_on.contains(&36), "{o:?}");
    }

    #[test]
    fn a_household_a_load_on_most_days_and_a_single_run_have_no_on_days() {
        let mut sc = OnDaysScratch::default();
        let (kw, cal) = series(35, 0.0, |_| false);
        assert_eq!(
            on_days(&kw, &cal, &cal.day_ranges(), 0.5, 0.3, &mut sc),
            None
        );
        // On 30 days of 35: not a minority pattern.
        let (kw, cal) = series(35, 2.0, |s| s / 48 >= 5);
        assert_eq!(
            on_days(&kw, &cal, &cal.day_ranges(), 0.5, 0.3, &mut sc),
            None
        );
        // On from day 25 to the end: a step (or a heating season), not switching.
        let (kw, cal) = series(35, 2.0, |s| s / 48 >= 25);
        assert_eq!(
            on_days(&kw, &cal, &cal.day_ranges(), 0.5, 0.3, &mut sc),
            None
        );
        // On for days 10-16 only: one spell.
        let (kw, cal) = series(35, 2.0, |s| (10..17).contains(&(s / 48)));
        assert_eq!(
            on_days(&kw, &cal, &cal.day_ranges(), 0.5, 0.3, &mut sc),
            None
        );
        // Two busy days are not a pattern either.
        let (kw, cal) = series(35, 2.0, |s| [8, 20].contains(&(s / 48)));
        assert_eq!(
            on_days(&kw, &cal, &cal.day_ranges(), 0.5, 0.3, &mut sc),
            None
        );
    }

    #[test]
    fn a_late_rig_is_split_from_a_heated_homes_busy_days() {
        // Days 0-9 heated (floor +2.5-3.4 kW, wandering); a 10 kW rig on days 28-29, 31-32
        // and 34 on top of the household, after a first run of 6 hours on the evening of day
        // 26: the widest gap is the rig's, not the heating's, its share counts from its first
        // whole day, and it came on with its first run.
        let rig_days = [28, 29, 31, 32, 34];
        let first_run = 26 * 48 + 36..27 * 48;
        let (mut kw, cal) = series(35, 10.0, |s| {
            rig_days.contains(&(s / 48)) || first_run.contains(&s)
        });
        for (s, x) in kw.iter_mut().enumerate() {
            let d = s / 48;
            if d < 10 {
                *x += 2.5 + 0.1 * d as f32;
            }
        }
        let mut sc = OnDaysScratch::default();
        let o = on_days(&kw, &cal, &cal.day_ranges(), 0.5, 0.3, &mut sc).expect("on days");
        assert!((o.on_kw - 10.2).abs() < 0.05, "{o:?}");
        assert!(o.cv < 0.01, "{o:?}");
        assert!((o.share - 5.0 / 7.0).abs() < 1e-6, "{o:?}");
        assert!(o.switched_on.contains(&(26 * 48 + 36)), "{o:?}");
        // Without that first run, it came on with day 28.
        for x in &mut kw[26 * 48 + 36..27 * 48] {
            *x -= 10.0;
        }
        let o = on_days(&kw, &cal, &cal.day_ranges(), 0.5, 0.3, &mut sc).expect("on days");
        assert!(o.switched_on.contains(&(28 * 48)), "{o:?}");
    }
}
