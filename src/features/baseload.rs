//! Baseload: the floor a meter never goes below, day by day. A rig lifts the floor by about
//! n x device kW and keeps it there (DOMAIN.md: "the baseload, e.g. the 5th percentile of the
//! day, jumps by about n x device kW and stays"); households sit at ~0.1-0.3 kW.
//!
//! Input: kW row, the local day ranges, scratch. Output: the daily p5 series (for the step
//! detector), its robust level and stability, night and day floors, outage snap-backs.

use super::calendar::Calendar;
use super::calendar::{DAY, NIGHT};
use super::level::{quantile_small, quantiles, rank, Small4, SmallK, SMALL_RANK_MAX};

/// Daily floor: 5th percentile of the day's slots.
pub const DAILY_FLOOR_Q: f64 = 0.05;
/// Night floor: the lower quartile of the night hours, so a night-tariff window that starts up
/// to 1.5 hours after midnight still reads as "on".
pub const NIGHT_FLOOR_Q: f64 = 0.25;
/// The night level over days is taken on the upper quartile of nights, so a rig that started
/// late in the window still shows.
pub const NIGHT_LEVEL_Q: f64 = 0.75;
/// A day needs this share of its slots present to count.
pub const MIN_DAY_COVERAGE: f32 = 0.75;

/// Baseload figures of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseload {
    /// Median over days of the daily floor.
    pub base_kw: f32,
    /// Coefficient of variation of the daily floor across days (stability).
    pub base_cv: f32,
    /// Level of the night hours (00-06 local: lower quartile, upper quartile over nights) and
    /// floor of the day hours (10-18: 5th percentile, median over days).
    pub night_floor_kw: f32,
    pub day_floor_kw: f32,
    /// 90th percentile over days of the daily floor (the "on" level of an intermittent rig).
    pub base_p90_kw: f32,
    /// Median absolute change of the floor from one day to the next, over the median floor.
    /// A rig's floor moves only at its steps (one step leaves the median change at ~0);
    /// heating's moves with the weather every day.
    pub base_jitter: f32,
    /// The same for the night floor (storage heaters charge more on cold nights; a night rig
    /// does not).
    pub night_jitter: f32,
    /// Days counted.
    pub days: usize,
}

/// Per-day sums of one row from a single pass, shared by the daily floors ([`baseload_with`]),
/// the daily and nightly means ([`DayStats::means`]) and the rhythm's within-day pattern: each
/// day's present slots (all, night hours, day hours) and the sums of its present values (all,
/// night hours; f64 in slot order, so every consumer sees the same figures as its own pass).
#[derive(Debug, Default, Clone)]
pub struct DayStats {
    pub n: Vec<u32>,
    pub n_night: Vec<u32>,
    pub n_day: Vec<u32>,
    pub sum: Vec<f64>,
    pub night_sum: Vec<f64>,
    /// The rhythm's sums over every slot of the days ([`rhythm_with`] from the first slot).
    ///
    /// [`rhythm_with`]: super::rhythm::rhythm_with
    pub slots: super::rhythm::SlotSums,
}

impl DayStats {
    /// Fills the stats of `kw` over `days` (ranges of `cal`'s slots).
    pub fn compute(&mut self, kw: &[f32], cal: &Calendar, days: &[std::ops::Range<usize>]) {
        for v in [&mut self.n, &mut self.n_night, &mut self.n_day] {
            v.clear();
        }
        self.sum.clear();
        self.night_sum.clear();
        // The rhythm's sums in a local (kept in registers, not stored through `self`).
        let mut slot_sums = super::rhythm::SlotSums::default();
        for r in days {
            let (mut n, mut nn, mut nd) = (0u32, 0u32, 0u32);
            let (mut sum, mut nsum) = (0f64, 0f64);
            let slots = kw[r.clone()]
                .iter()
                .zip(&cal.class[r.clone()])
                .zip(&cal.hour[r.clone()]);
            for ((&v, &c), &h) in slots {
                // The rhythm's sums ride along (days run over every slot in order).
                slot_sums.add(v, h, c);
                if !v.is_nan() {
                    let v64 = f64::from(v);
                    let night = c & NIGHT != 0;
                    n += 1;
                    nn += u32::from(night);
                    nd += u32::from(c & DAY != 0);
                    sum += v64;
                    // Over the night slots only: the same as adding +0.0 for the others, which
                    // leaves a sum that starts at +0.0 bitwise unchanged.
                    if night {
                        nsum += v64;
                    }
                }
            }
            self.n.push(n);
            self.n_night.push(nn);
            self.n_day.push(nd);
            self.sum.push(sum);
            self.night_sum.push(nsum);
        }
        self.slots = slot_sums;
    }

    /// Mean kW of each day and of its night hours ([`NIGHT`]), `NaN` when under
    /// [`MIN_DAY_COVERAGE`] of the full day (or of its night hours) is present.
    pub fn means(&self, cal: &Calendar, daily: &mut Vec<f32>, nights: &mut Vec<f32>) {
        daily.clear();
        nights.clear();
        let full = cal.slots_per_day.max(1) as f32;
        let full_night = full * (super::calendar::NIGHT_HOURS.len() as f32) / 24.0;
        for d in 0..self.n.len() {
            let (n, nn) = (self.n[d], self.n_night[d]);
            daily.push(if (n as f32) < MIN_DAY_COVERAGE * full {
                f32::NAN
            } else {
                (self.sum[d] / f64::from(n)) as f32
            });
            nights.push(if (nn as f32) < MIN_DAY_COVERAGE * full_night || nn == 0 {
                f32::NAN
            } else {
                (self.night_sum[d] / f64::from(nn)) as f32
            });
        }
    }
}

/// Reused buffers of [`baseload_with`].
#[derive(Debug, Default)]
pub struct BaseScratch {
    pub buf: Vec<f32>,
    pub tmp: Vec<f32>,
    night: Vec<f32>,
    day_floor: Vec<f32>,
}

/// Fills `daily` with each local day's floor, `night_by_day` with each night's level and
/// `day_by_day` with each day's floor of its day hours (`NaN` when under-covered) and returns
/// the summary. `buf` and `tmp` are scratch. One-off form of [`baseload_with`] (tests, benches,
/// the report).
#[allow(clippy::too_many_arguments)]
pub fn baseload(
    kw: &[f32],
    cal: &Calendar,
    days: &[std::ops::Range<usize>],
    daily: &mut Vec<f32>,
    night_by_day: &mut Vec<f32>,
    day_by_day: &mut Vec<f32>,
    buf: &mut Vec<f32>,
    tmp: &mut Vec<f32>,
) -> Baseload {
    let mut stats = DayStats::default();
    stats.compute(kw, cal, days);
    let mut sc = BaseScratch {
        buf: std::mem::take(buf),
        tmp: std::mem::take(tmp),
        ..BaseScratch::default()
    };
    let b = baseload_with(
        kw,
        cal,
        days,
        &stats,
        [daily, night_by_day, day_by_day],
        &mut sc,
    );
    *buf = sc.buf;
    *tmp = sc.tmp;
    b
}

/// [`baseload`] on the day counts of `stats` (computed over the same `days`); `out` are the
/// daily, night and day-hours floors.
pub fn baseload_with(
    kw: &[f32],
    cal: &Calendar,
    days: &[std::ops::Range<usize>],
    stats: &DayStats,
    out: [&mut Vec<f32>; 3],
    sc: &mut BaseScratch,
) -> Baseload {
    let [daily, night_by_day, day_by_day] = out;
    daily.clear();
    night_by_day.clear();
    day_by_day.clear();
    let BaseScratch {
        buf,
        tmp,
        night,
        day_floor,
    } = sc;
    night.clear();
    day_floor.clear();
    let full = cal.slots_per_day.max(1) as f32;
    let covered = |d: usize| (stats.n[d] as f32) >= MIN_DAY_COVERAGE * full;
    // The three floors' ranks of day `d` (when it is covered).
    let ranks = |d: usize| {
        [
            rank(DAILY_FLOOR_Q, stats.n[d] as usize),
            rank(NIGHT_FLOOR_Q, (stats.n_night[d] as usize).max(1)),
            rank(DAILY_FLOOR_Q, (stats.n_day[d] as usize).max(1)),
        ]
    };
    let mut d = 0;
    while d < days.len() {
        // Up to `LANES` days of the same length and night and day hours: one day per lane.
        let r0 = &days[d];
        let mut g = 1;
        let mut max_rank = if covered(d) {
            ranks(d)[0].max(ranks(d)[1]).max(ranks(d)[2])
        } else {
            0
        };
        while g < LANES && d + g < days.len() {
            let r = &days[d + g];
            let same = r.len() == r0.len()
                && same_night_and_day(&cal.class[r.clone()], &cal.class[r0.clone()]);
            if !same {
                break;
            }
            if covered(d + g) {
                max_rank = max_rank.max(ranks(d + g).into_iter().max().unwrap_or(0));
            }
            g += 1;
        }
        if g > 1 && max_rank <= LANES_MAX_RANK {
            let mut starts = [r0.start; LANES];
            for (l, s) in starts.iter_mut().enumerate().take(g) {
                *s = days[d + l].start;
            }
            let mut want = [[0usize; 3]; LANES];
            for (l, w) in want.iter_mut().enumerate().take(g) {
                if covered(d + l) {
                    *w = ranks(d + l);
                }
            }
            let class = &cal.class[r0.clone()];
            let floors = match max_rank {
                0 => floors_by_lanes::<1>(kw, &starts, class, &want),
                1 => floors_by_lanes::<2>(kw, &starts, class, &want),
                2 => floors_by_lanes::<3>(kw, &starts, class, &want),
                3 => floors_by_lanes::<4>(kw, &starts, class, &want),
                4 => floors_by_lanes::<5>(kw, &starts, class, &want),
                5 => floors_by_lanes::<6>(kw, &starts, class, &want),
                6 => floors_by_lanes::<7>(kw, &starts, class, &want),
                _ => floors_by_lanes::<8>(kw, &starts, class, &want),
            };
            for (l, f) in floors.iter().enumerate().take(g) {
                let day = d + l;
                if !covered(day) {
                    daily.push(f32::NAN);
                    night_by_day.push(f32::NAN);
                    day_by_day.push(f32::NAN);
                    continue;
                }
                let (n_night, n_day) = (stats.n_night[day], stats.n_day[day]);
                push_floors(
                    *f,
                    n_night,
                    n_day,
                    [daily, night_by_day, day_by_day],
                    day_floor,
                    night,
                );
            }
            d += g;
            continue;
        }
        let r = days[d].clone();
        let slots = &kw[r.clone()];
        let class = &cal.class[r.clone()];
        // How many present in the day, its night hours and its day hours.
        let (n_all, n_night, n_day) = (
            stats.n[d] as usize,
            stats.n_night[d] as usize,
            stats.n_day[d] as usize,
        );
        d += 1;
        if !covered(d - 1) {
            daily.push(f32::NAN);
            night_by_day.push(f32::NAN);
            day_by_day.push(f32::NAN);
            continue;
        }
        if rank(DAILY_FLOOR_Q, n_all) >= SMALL_RANK_MAX {
            // Very fine intervals (1-minute data): general selection.
            daily.push(quantile_small(slots, DAILY_FLOOR_Q, buf));
            tmp.clear();
            tmp.extend(r.clone().filter(|&s| cal.is_night(s)).map(|s| kw[s]));
            night_by_day.push(quantile_small(tmp, NIGHT_FLOOR_Q, buf));
            tmp.clear();
            tmp.extend(r.clone().filter(|&s| cal.is_day(s)).map(|s| kw[s]));
            let d = quantile_small(tmp, DAILY_FLOOR_Q, buf);
            day_by_day.push(d);
            if !d.is_nan() {
                day_floor.push(d);
            }
            if let Some(&n) = night_by_day.last() {
                if !n.is_nan() {
                    night.push(n);
                }
            }
        } else {
            // The three floors at once.
            let ranks = [
                rank(DAILY_FLOOR_Q, n_all),
                rank(NIGHT_FLOOR_Q, n_night.max(1)),
                rank(DAILY_FLOOR_Q, n_day.max(1)),
            ];
            let f = if ranks.iter().all(|&r| r <= Small4::MAX_RANK) {
                three_floors(slots, class, ranks.map(Small4::new))
            } else {
                three_floors(slots, class, ranks.map(SmallK::new))
            };
            push_floors(
                f,
                n_night as u32,
                n_day as u32,
                [daily, night_by_day, day_by_day],
                day_floor,
                night,
            );
        }
    }
    let [base, base_p90] = quantiles(buf, daily, [0.5, 0.9]);
    let n_valid = daily.iter().filter(|v| !v.is_nan()).count();
    let base_cv = crate::stats::cv(daily);
    let base_jitter = jitter(daily, base, buf);
    let night_med = quantiles(buf, night, [0.5])[0];
    let night_jitter = robust_jitter(night_by_day, night_med, buf);
    Baseload {
        base_jitter,
        night_jitter,
        base_kw: base,
        base_cv,
        night_floor_kw: quantiles(buf, night, [NIGHT_LEVEL_Q])[0],
        day_floor_kw: quantiles(buf, day_floor, [0.5])[0],
        base_p90_kw: base_p90,
        days: n_valid,
    }
}

/// One of the small-rank selectors ([`SmallK`], [`Small4`]).
trait Smallest: Copy {
    fn push(&mut self, v: f32);
    fn get(&self) -> f32;
}

impl Smallest for SmallK {
    #[inline]
    fn push(&mut self, v: f32) {
        SmallK::push(self, v);
    }
    #[inline]
    fn get(&self) -> f32 {
        SmallK::get(self)
    }
}

impl Smallest for Small4 {
    #[inline]
    fn push(&mut self, v: f32) {
        Small4::push(self, v);
    }
    #[inline]
    fn get(&self) -> f32 {
        Small4::get(self)
    }
}

/// A day's floor, night floor and day-hours floor in one pass over its slots.
#[inline]
fn three_floors<S: Smallest>(
    slots: &[f32],
    class: &[u8],
    [mut all, mut ni, mut di]: [S; 3],
) -> [f32; 3] {
    // The class bits repeat day after day (a branch predictor learns them); the values do not.
    for (&v, &c) in slots.iter().zip(class) {
        all.push(v);
        if c & NIGHT != 0 {
            ni.push(v);
        }
        if c & DAY != 0 {
            di.push(v);
        }
    }
    [all.get(), ni.get(), di.get()]
}

/// Pushes a covered day's three floors (`[all, night, day hours]`, from [`three_floors`] or
/// [`floors_by_lanes`]) given its present night and day-hours slots.
fn push_floors(
    [all, ni, di]: [f32; 3],
    n_night: u32,
    n_day: u32,
    [daily, night_by_day, day_by_day]: [&mut Vec<f32>; 3],
    day_floor: &mut Vec<f32>,
    night: &mut Vec<f32>,
) {
    daily.push(all);
    night_by_day.push(if n_night > 0 { ni } else { f32::NAN });
    if n_day > 0 {
        day_floor.push(di);
    }
    day_by_day.push(if n_day > 0 { di } else { f32::NAN });
    if n_night > 0 && !ni.is_nan() {
        night.push(ni);
    }
}

/// Whether two days' slot classes (as long as each other) have the same night and day bits,
/// eight slots at a time.
fn same_night_and_day(a: &[u8], b: &[u8]) -> bool {
    const MASK: u64 = u64::from_ne_bytes([NIGHT | DAY; 8]);
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest = ca.remainder().iter().zip(cb.remainder());
    ca.zip(cb).all(|(x, y)| (word(x) ^ word(y)) & MASK == 0)
        && rest.into_iter().all(|(x, y)| (x ^ y) & (NIGHT | DAY) == 0)
}

/// Days handled at once by [`floors_by_lanes`]: one SSE register on the baseline x86-64.
const LANES: usize = 4;
/// Largest rank [`floors_by_lanes`] handles.
const LANES_MAX_RANK: usize = 7;

/// Keeps the `K` smallest of each lane in order, `v` pushed after them: a stable insertion
/// (a value equal to a kept one goes behind it, as in [`SmallK`] and [`Small4`]), one min and
/// one max per kept place, which the compiler turns into vector instructions.
#[inline(always)]
fn lanes_insert<const K: usize>(m: &mut [[f32; LANES]; K], v: [f32; LANES]) {
    let mut t = v;
    for place in m.iter_mut() {
        let a = *place;
        for l in 0..LANES {
            let less = t[l] < a[l];
            place[l] = if less { t[l] } else { a[l] };
            t[l] = if less { a[l] } else { t[l] };
        }
    }
}

/// The three floors (the day's, its night hours', its day hours') of up to [`LANES`] days of
/// the same length and the same night and day hours (`class`, the first day's classes), one
/// day per lane: day `l` starts at `starts[l]`; `ranks[l]` are its three ranks (all under
/// `K`). Each lane keeps its `K` smallest values in the order [`Small4`] and [`SmallK`] keep
/// them (pushed in slot order, `NaN` never entering), so every floor is theirs bit for bit.
fn floors_by_lanes<const K: usize>(
    kw: &[f32],
    starts: &[usize; LANES],
    class: &[u8],
    ranks: &[[usize; 3]; LANES],
) -> [[f32; 3]; LANES] {
    let len = class.len();
    let rows: [&[f32]; LANES] = starts.map(|s| &kw[s..s + len]);
    let mut all = [[f32::INFINITY; LANES]; K];
    let mut ni = all;
    let mut di = all;
    for (j, &c) in class.iter().enumerate() {
        let mut x = [f32::INFINITY; LANES];
        for l in 0..LANES {
            let v = rows[l][j];
            // Missing values (and infinity, which never enters a selector either) are
            // pushed as infinity, which stays behind every kept value.
            x[l] = if v < f32::INFINITY { v } else { f32::INFINITY };
        }
        lanes_insert(&mut all, x);
        if c & NIGHT != 0 {
            lanes_insert(&mut ni, x);
        }
        if c & DAY != 0 {
            lanes_insert(&mut di, x);
        }
    }
    let get = |m: &[[f32; LANES]; K], r: usize, l: usize| {
        let v = m[r.min(K - 1)][l];
        if v == f32::INFINITY {
            f32::NAN
        } else {
            v
        }
    };
    std::array::from_fn(|l| {
        let [a, n, d] = ranks[l];
        [get(&all, a, l), get(&ni, n, l), get(&di, d, l)]
    })
}

/// Median absolute change between consecutive days' values, over `level` (`NaN` when fewer
/// than three pairs or a level near zero).
pub fn jitter(series: &[f32], level: f32, buf: &mut Vec<f32>) -> f32 {
    buf.clear();
    buf.extend(
        series
            .windows(2)
            .filter(|w| !w[0].is_nan() && !w[1].is_nan())
            .map(|w| (w[1] - w[0]).abs()),
    );
    if buf.len() < 3 || level.is_nan() || level <= 0.05 {
        return f32::NAN;
    }
    let k = rank(0.5, buf.len());
    *buf.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1 / level
}

/// Median absolute deviation of the values from `level`, over `level` (`NaN` under three values
/// or at a level near zero). Robust to a minority of outlying days (an outage day's floor).
pub fn spread(series: &[f32], level: f32, buf: &mut Vec<f32>) -> f32 {
    buf.clear();
    buf.extend(
        series
            .iter()
            .filter(|v| !v.is_nan())
            .map(|v| (v - level).abs()),
    );
    if buf.len() < 3 || level.is_nan() || level <= 0.05 {
        return f32::NAN;
    }
    let k = rank(0.5, buf.len());
    *buf.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1 / level
}

/// How much a level wanders from day to day, robust both to steps (a rig adding devices: one
/// change among many days, which [`jitter`] ignores) and to outage days (a minority of low
/// days, which [`spread`] ignores): the smaller of the two. Heating wanders by both measures.
pub fn robust_jitter(series: &[f32], level: f32, buf: &mut Vec<f32>) -> f32 {
    jitter(series, level, buf).min(spread(series, level, buf))
}

/// Mean kW of each local day and of its night hours ([`NIGHT`]), `NaN` when under
/// [`MIN_DAY_COVERAGE`] of the full day (or of its night hours) is present (one-off form of
/// [`DayStats::means`]).
pub fn daily_means(
    kw: &[f32],
    cal: &Calendar,
    days: &[std::ops::Range<usize>],
    daily: &mut Vec<f32>,
    nights: &mut Vec<f32>,
) {
    let mut stats = DayStats::default();
    stats.compute(kw, cal, days);
    stats.means(cal, daily, nights);
}

/// The level a load holds most of each day, and the level it reaches for a quarter of it: the
/// daily [`HELD_Q`] and `1 - HELD_Q` quantiles (`NaN` for days under [`MIN_DAY_COVERAGE`]). A rig
/// switched off for a few hours at the evening peak (time-of-use curtailment) keeps the first;
/// its daily 5th percentile falls to the household's. Two selections per day.
pub fn daily_held(
    kw: &[f32],
    cal: &Calendar,
    days: &[std::ops::Range<usize>],
    held: &mut Vec<f32>,
    high: &mut Vec<f32>,
    buf: &mut Vec<f32>,
) {
    held.clear();
    high.clear();
    let full = cal.slots_per_day.max(1) as f32;
    for r in days {
        let v = &kw[r.clone()];
        let n = v.iter().filter(|x| !x.is_nan()).count();
        if (n as f32) < MIN_DAY_COVERAGE * full || n == 0 {
            held.push(f32::NAN);
            high.push(f32::NAN);
            continue;
        }
        let [a, b] = quantiles(buf, v, [HELD_Q, 1.0 - HELD_Q]);
        held.push(a);
        high.push(b);
    }
}

/// Daily quantile of the held level: a load on for at least 75% of the day holds it.
pub const HELD_Q: f64 = 0.25;

/// How crisp a daily on/off schedule is, over the days listed in `on_days` (indices into `days`):
/// for each local hour, the share of those days on which it sits below `mid`; returns the mean
/// over hours of |2 share - 1| (1 = the same hours off every day, as a timer or a tariff does;
/// ~0 = off at random, as a cycling compressor is), the share of hours mostly off, and the
/// share of those that fall in the [`EVENING_PEAK`].
pub fn schedule(
    kw: &[f32],
    cal: &Calendar,
    days: &[std::ops::Range<usize>],
    on_days: impl Iterator<Item = usize>,
    mid: f32,
) -> (f32, f32, f32) {
    let mut below = [0u32; 24];
    let mut seen = [0u32; 24];
    for d in on_days {
        for s in days[d].clone() {
            let v = kw[s];
            if v.is_nan() {
                continue;
            }
            let h = usize::from(cal.hour[s]).min(23);
            seen[h] += 1;
            below[h] += u32::from(v < mid);
        }
    }
    let (mut n, mut crisp, mut off, mut off_peak) = (0u32, 0f32, 0u32, 0u32);
    for h in 0..24 {
        if seen[h] >= 3 {
            let share = below[h] as f32 / seen[h] as f32;
            n += 1;
            crisp += (2.0 * share - 1.0).abs();
            off += u32::from(share > 0.5);
            off_peak += u32::from(share > 0.5 && EVENING_PEAK.contains(&(h as u32)));
        }
    }
    if n < 12 {
        return (f32::NAN, f32::NAN, f32::NAN);
    }
    let peak = if off > 0 {
        off_peak as f32 / off as f32
    } else {
        f32::NAN
    };
    (crisp / n as f32, off as f32 / n as f32, peak)
}

/// Local hours of the evening peak (15:00-22:00), when time-of-use tariffs and demand response
/// make a miner switch off.
pub const EVENING_PEAK: std::ops::Range<u32> = 15..22;

/// Fills `hours[h]` with the present values of `kw[from..]` at local hour `h` that are at
/// least `min_kw` (the buckets are cleared first).
pub(super) fn by_hour(
    kw: &[f32],
    cal: &Calendar,
    from: usize,
    min_kw: f32,
    hours: &mut [Vec<f32>; 24],
) {
    for h in hours.iter_mut() {
        h.clear();
    }
    for s in from..kw.len() {
        let v = kw[s];
        if !v.is_nan() && v >= min_kw {
            hours[usize::from(cal.hour[s]).min(23)].push(v);
        }
    }
}

/// The floor profile's range (kW): for each local hour, the [`HOUR_FLOOR_Q`] quantile over the
/// given slots at that hour; the highest minus the lowest. A rig draws the same at every hour
/// of the day, so under it only a household's floor moves (~0.1-0.3 kW); heating follows the
/// diurnal temperature and its thermostat schedule, a shop its opening hours. `hours` is
/// scratch (24 buckets). Slots below `min_kw` (outages: a rig off for a while, then back)
/// are left out. `NaN` with under 12 hours of at least three values.
pub fn floor_profile_range(
    kw: &[f32],
    cal: &Calendar,
    from: usize,
    min_kw: f32,
    hours: &mut [Vec<f32>; 24],
    buf: &mut Vec<f32>,
) -> f32 {
    let from = from.min(kw.len());
    let hour = |s: usize| usize::from(cal.hour[s]).min(23);
    let mut count = [0usize; 24];
    for s in from..kw.len() {
        let v = kw[s];
        if !v.is_nan() && v >= min_kw {
            count[hour(s)] += 1;
        }
    }
    let mut q = [f32::NAN; 24];
    if count
        .iter()
        .all(|&c| rank(HOUR_FLOOR_Q, c.max(1)) < SMALL_RANK_MAX)
    {
        // Every hour's quantile by a small-rank selector, in one pass without buckets (the
        // same values in the same order as `quantile_small` on each hour's bucket).
        let mut sel = count.map(|c| SmallK::new(rank(HOUR_FLOOR_Q, c.max(1))));
        for s in from..kw.len() {
            let v = kw[s];
            if !v.is_nan() && v >= min_kw {
                sel[hour(s)].push(v);
            }
        }
        for h in 0..24 {
            if count[h] >= 3 {
                q[h] = sel[h].get();
            }
        }
    } else {
        by_hour(kw, cal, from, min_kw, hours);
        for (h, vals) in hours.iter().enumerate() {
            if vals.len() >= 3 {
                q[h] = quantile_small(vals, HOUR_FLOOR_Q, buf);
            }
        }
    }
    let (mut lo, mut hi, mut n) = (f32::INFINITY, f32::NEG_INFINITY, 0);
    for h in 0..24 {
        if count[h] >= 3 {
            lo = lo.min(q[h]);
            hi = hi.max(q[h]);
            n += 1;
        }
    }
    if n < 12 {
        f32::NAN
    } else {
        hi - lo
    }
}

/// Quantile over days of each hour's load for [`floor_profile_range`].
pub const HOUR_FLOOR_Q: f64 = 0.1;

/// How far a level that moves only at its steps wanders between them: the median absolute
/// deviation of each value from the median of its segment (`series` split at `cuts`, indices
/// into it), over `level`. Robust to a minority of outage days; unlike the day-to-day change
/// ([`jitter`]) it sees a slow drift over weeks (heating following the season), and unlike the
/// plain [`spread`] it is not inflated by the rig's own steps. Segments of under three values
/// say nothing of wander and are left out. `NaN` under three values or at a level near zero.
pub fn segment_spread(
    series: &[f32],
    cuts: &[usize],
    level: f32,
    buf: &mut Vec<f32>,
    dev: &mut Vec<f32>,
) -> f32 {
    dev.clear();
    let mut from = 0usize;
    for &to in cuts.iter().chain(std::iter::once(&series.len())) {
        let to = to.clamp(from, series.len());
        let seg = &series[from..to];
        from = to;
        if seg.iter().filter(|v| !v.is_nan()).count() < 3 {
            continue;
        }
        let med = super::level::quantiles(buf, seg, [0.5])[0];
        dev.extend(seg.iter().filter(|v| !v.is_nan()).map(|v| (v - med).abs()));
    }
    if dev.len() < 3 || level.is_nan() || level <= 0.05 {
        return f32::NAN;
    }
    let k = rank(0.5, dev.len());
    *dev.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1 / level
}

/// Share of the days, from the first one whose floor (`daily`, by day of `days`) held half of
/// `level`, on which the load did not hold it (more than half of the day's present slots below
/// half of `level`): the days a load holding that level was off. By the day's majority, not its
/// floor: an outage of a few hours empties a day's floor but leaves it on. From a day whose
/// floor was there, not a day a household was busy on: a small rig's half level is a
/// household's evening. A 24/7 rig is off only through outages of hours; once at its level a
/// rig that adds devices never falls back below half of it; a load off on a fifth of its days
/// or more switches by the day (a price-driven rig, a frost-protection cable on through cold
/// nights and off on mild days). Days under [`MIN_DAY_COVERAGE`] are left out. `NaN` without
/// such days or at a level near zero.
pub fn low_days_share(
    kw: &[f32],
    days: &[std::ops::Range<usize>],
    daily: &[f32],
    level: f32,
) -> f32 {
    if level.is_nan() || level <= 0.05 {
        return f32::NAN;
    }
    let half = 0.5 * level;
    let full = days.first().map_or(1, |r| r.len()).max(1) as f32;
    let (mut started, mut valid, mut low) = (false, 0usize, 0usize);
    for (d, r) in days.iter().enumerate() {
        let (mut n, mut below) = (0usize, 0usize);
        for v in &kw[r.clone()] {
            if !v.is_nan() {
                n += 1;
                below += usize::from(*v < half);
            }
        }
        if (n as f32) < MIN_DAY_COVERAGE * full.max(r.len() as f32) {
            continue;
        }
        let off = 2 * below > n;
        started |= daily.get(d).is_some_and(|&f| f >= half);
        if started {
            valid += 1;
            low += usize::from(off);
        }
    }
    if valid == 0 {
        f32::NAN
    } else {
        low as f32 / valid as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::level::tests::{random_row, SPECIAL};
    use crate::grid::TimeGrid;

    fn naive_floor(v: &[f32]) -> f32 {
        let mut x: Vec<f32> = v.iter().copied().filter(|a| !a.is_nan()).collect();
        if x.is_empty() {
            return f32::NAN;
        }
        x.sort_by(f32::total_cmp);
        x[((0.05 * (x.len() - 1) as f64).round()) as usize]
    }

    #[test]
    fn daily_floors_match_naive_reference() {
        let grid = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 1800,
            n_slots: 48 * 10,
        };
        let cal = Calendar::new(&grid, chrono_tz::UTC);
        let days = cal.day_ranges();
        for seed in 0..20 {
            let row = random_row(seed, grid.n_slots);
            let (mut daily, mut nights, mut days_kw, mut buf, mut tmp) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let b = baseload(
                &row,
                &cal,
                &days,
                &mut daily,
                &mut nights,
                &mut days_kw,
                &mut buf,
                &mut tmp,
            );
            for (d, r) in days.iter().enumerate() {
                let slots = &row[r.clone()];
                let cov = slots.iter().filter(|v| !v.is_nan()).count() as f32 / 48.0;
                let want = if cov < MIN_DAY_COVERAGE {
                    f32::NAN
                } else {
                    naive_floor(slots)
                };
                assert!(daily[d] == want || (daily[d].is_nan() && want.is_nan()));
            }
            let mut valid: Vec<f32> = daily.iter().copied().filter(|v| !v.is_nan()).collect();
            valid.sort_by(f32::total_cmp);
            assert_eq!(
                b.base_kw,
                valid[((0.5 * (valid.len() - 1) as f64).round()) as usize]
            );
            let night: Vec<f32> = (0..grid.n_slots)
                .filter(|&s| cal.is_night(s))
                .map(|s| row[s])
                .collect();
            assert!(b.night_floor_kw >= naive_floor(&night) - 1e-6);
        }
    }

    #[test]
    fn floors_by_lanes_equal_the_selectors_bit_for_bit() {
        // Values with ties, both zeros, missing values and infinities, at every rank.
        let special = SPECIAL;
        for seed in 0..300u64 {
            let len = 1 + (seed as usize * 7) % 60;
            let row: Vec<f32> = random_row(seed, len * LANES)
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if (i as u64 * 3 + seed).is_multiple_of(7) {
                        special[(i + seed as usize) % special.len()]
                    } else {
                        (v * 2.0).round() / 2.0
                    }
                })
                .collect();
            let class: Vec<u8> = (0..len)
                .map(|i| ((i * 5 + seed as usize) % 4) as u8)
                .collect();
            let starts: [usize; LANES] = std::array::from_fn(|l| l * len);
            let ranks: [[usize; 3]; LANES] =
                std::array::from_fn(|l| [(l + seed as usize) % 8, l % 8, (l * 3) % 8]);
            let got = floors_by_lanes::<8>(&row, &starts, &class, &ranks);
            for l in 0..LANES {
                let day = &row[starts[l]..starts[l] + len];
                let want = three_floors(day, &class, ranks[l].map(SmallK::new));
                assert_eq!(
                    got[l].map(f32::to_bits),
                    want.map(f32::to_bits),
                    "seed {seed} lane {l}"
                );
            }
        }
    }

    #[test]
    fn jitter_ignores_one_step_but_not_daily_wander() {
        let mut buf = Vec::new();
        let step: Vec<f32> = (0..20).map(|d| if d < 10 { 3.25 } else { 6.5 }).collect();
        assert!(jitter(&step, 6.5, &mut buf) < 1e-6);
        let wander: Vec<f32> = (0..20)
            .map(|d| 2.0 + if d % 2 == 0 { 0.4 } else { 0.0 })
            .collect();
        assert!((jitter(&wander, 2.0, &mut buf) - 0.2).abs() < 1e-6);
        assert!(jitter(&[1.0, 1.0], 1.0, &mut buf).is_nan());
    }

    #[test]
    fn segment_spread_sees_drift_not_steps_or_outages() {
        let mut buf = Vec::new();
        let mut dev = Vec::new();
        // A rig adding devices on day 18, with one outage day: flat between the steps.
        let mut rig: Vec<f32> = (0..30).map(|d| if d < 18 { 3.3 } else { 6.6 }).collect();
        rig[22] = 0.2;
        let s = segment_spread(&rig, &[18], 6.6, &mut buf, &mut dev);
        assert!(s < 0.01, "{s}");
        // Without the cut, the step itself reads as wander.
        assert!(spread(&rig, 6.6, &mut buf) > 0.3);
        // Heating drifting from 2.6 to 1.4 kW over the weeks, each day close to the last.
        let heat: Vec<f32> = (0..30).map(|d| 2.6 - 0.04 * d as f32).collect();
        let s = segment_spread(&heat, &[], 2.0, &mut buf, &mut dev);
        assert!(s > 0.15, "{s}");
        assert!(jitter(&heat, 2.0, &mut buf) < 0.03);
    }

    #[test]
    fn low_days_share_counts_days_off_after_reaching_the_level() {
        // Each day's floor, as the features take it (the lowest reading here).
        let floors = |row: &[f32]| -> Vec<f32> {
            row.chunks(48)
                .map(|d| d.iter().fold(f32::INFINITY, |a, &b| a.min(b)))
                .collect()
        };
        // Half-hourly days; a 3.3 kW rig with a 4-hour outage on day 12: on every day.
        let days: Vec<std::ops::Range<usize>> = (0..30).map(|d| d * 48..(d + 1) * 48).collect();
        let mut rig = vec![3.3f32; 30 * 48];
        rig[12 * 48..12 * 48 + 8].fill(0.1);
        assert_eq!(low_days_share(&rig, &days, &floors(&rig), 3.3), 0.0);
        // Off a whole day: 1 of 30.
        rig[20 * 48..21 * 48].fill(0.1);
        let s = low_days_share(&rig, &days, &floors(&rig), 3.3);
        assert!((s - 1.0 / 30.0).abs() < 1e-6);
        // A frost-protection cable on cold days only: on 2 days in 3 once it started.
        let mut cable = vec![0.2f32; 30 * 48];
        for d in (4..30).filter(|d| d % 3 != 0) {
            cable[d * 48..(d + 1) * 48].fill(1.8);
        }
        let s = low_days_share(&cable, &days, &floors(&cable), 1.8);
        assert!((0.3..0.4).contains(&s), "{s}");
        // Days before the load first reached its level are not "off".
        let mut stepped = vec![0.2f32; 30 * 48];
        stepped[20 * 48..].fill(3.3);
        assert_eq!(low_days_share(&stepped, &days, &floors(&stepped), 3.3), 0.0);
        assert!(low_days_share(&stepped, &days, &floors(&stepped), 0.01).is_nan());
        // Nor are a household's busy days before a small rig came on: 0.9 kW from day 20,
        // on a home at 0.2 kW with 14 busy hours at 1.5 kW every day.
        let mut small = vec![0.2f32; 30 * 48];
        for d in 0..30 {
            small[d * 48 + 16..d * 48 + 44].fill(1.5);
        }
        for v in &mut small[20 * 48..] {
            *v += 0.9;
        }
        assert_eq!(low_days_share(&small, &days, &floors(&small), 1.1), 0.0);
    }
}
