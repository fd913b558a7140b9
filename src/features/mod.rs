//! Features: one row of named numbers per meter, computed from its `&[f32]` series in one
//! pass per kernel family, in parallel across meters (rayon, one scratch set per worker).
//!
//! Input: a [`FeatureContext`] (the matrix, the local calendar, optional daily temperature and
//! segment ids). Output: `Vec<MeterFeatures>` in matrix order. Kernels live one family per
//! file (`level`, `baseload`, `rhythm`, `steps`, `weather`); each is checked against a naive
//! reference in its tests. Parallel and sequential runs give identical results (a test checks).

pub mod baseload;
pub mod calendar;
pub mod changepoint;
pub mod context;
pub mod level;
pub mod nightblock;
pub mod ondays;
pub mod outage;
pub mod proxy;
pub mod rhythm;
pub mod steps;
pub mod weather;

use rayon::prelude::*;

pub use calendar::Calendar;
pub use context::{FeatureContext, View};
pub use proxy::{peer_proxy, DayProxy};

macro_rules! features {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// The features of one meter (kW are average power; `NaN` = not computable).
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct MeterFeatures {
            $($(#[doc = $doc])* pub $name: f32,)*
        }

        /// Feature names, in [`MeterFeatures::values`] order (the columns of features.parquet).
        pub const FEATURE_NAMES: &[&str] = &[$(stringify!($name)),*];

        impl MeterFeatures {
            /// All features, in [`FEATURE_NAMES`] order.
            pub fn values(&self) -> Vec<f32> {
                vec![$(self.$name),*]
            }
            /// Every feature `NaN`.
            pub fn nan() -> Self {
                MeterFeatures { $($name: f32::NAN,)* }
            }
        }
    };
}

features! {
    /// Mean load over present slots (kW).
    mean_kw,
    /// Energy over the window, present slots (kWh).
    kwh_total,
    /// Share of slots present.
    coverage,
    /// Share of present slots estimated or substituted by the meter-data system.
    estimated_share,
    /// Coefficient of variation of the load.
    cv,
    p10_kw,
    p50_kw,
    p90_kw,
    max_kw,
    /// Share of slots within ±10% of the median.
    near_median_share,
    /// Median over local days of the daily 5th percentile (kW).
    base_kw,
    /// Coefficient of variation of the daily floor across days.
    base_cv,
    /// The same, over the days from the step on (the whole window without a step up).
    base_cv_after,
    /// 90th percentile over days of the daily floor (kW).
    base_p90_kw,
    /// Median day-to-day change of the daily floor / of the night floor, over its level.
    base_jitter,
    night_jitter,
    /// Share of present slots above the midpoint of p10 and p90 (a night-tariff rig ~0.3;
    /// grow lights on 12/12 or 18/6 ~0.5 or 0.75; a flat load ~0.5 by noise).
    duty_cycle,
    /// "On" days of a load switched by the day ([`ondays::on_days`]: days from the switching
    /// hour, split at the widest gap of their floors that leaves a minority above): their
    /// share, the coefficient of variation of their floors (a rig's on-level is the same every
    /// time), and the median floor of the "on" days and of the others (kW).
    on_days_share,
    on_level_cv,
    on_kw,
    off_kw,
    /// Level of local night hours (00-06; lower quartile, upper quartile over nights) and floor
    /// of day hours (10-18; 5th percentile, median over days) (kW).
    night_floor_kw,
    day_floor_kw,
    /// Amplitude of the mean 24-hour profile over the mean.
    diurnal_amp,
    /// Autocorrelation at one day and at one week.
    acf_day,
    acf_week,
    /// Mean night load over mean day load; weekend over weekday.
    night_day_ratio,
    weekend_ratio,
    /// Best step up of the daily floor: first day (index), level before and after (kW), t.
    step_day,
    step_before_kw,
    step_after_kw,
    step_t,
    /// Slot index where the step began (the first step when capacity was added later).
    onset_slot,
    /// A later step up (capacity added): its first day (index) and size (kW).
    growth_day,
    growth_kw,
    /// First slot of the first "on" day (floor above the on/off midpoint) and of the first
    /// "on" night (night level above the midpoint of the night level and the day floor): the
    /// onset of intermittent and night-only rigs.
    first_on_slot,
    first_night_slot,
    /// Daily floor after the step (the whole window without one), and mean load after (kW).
    base_after_kw,
    mean_after_kw,
    /// Shape since the onset (the whole window without a step up): floor jitter, daily
    /// pattern (profile amplitude, autocorrelation at 24 h), share of slots near the median.
    /// A rig that starts on day 27 is judged on days 27-30, not on the household before it.
    base_jitter_after,
    diurnal_amp_after,
    acf_day_after,
    near_median_after,
    /// Outages: hours at a fraction of the level, then back at the same draw at once
    /// ([`outage::mask_outages`]; 0 where drops are a schedule or a switch).
    snapbacks,
    /// Daily load against daily temperature: slope (kW/°C) and correlation.
    temp_slope,
    temp_corr,
    /// Mean load over the median mean load of the same tariff / feeder.
    peer_tariff_ratio,
    peer_feeder_ratio,
    /// Daily floor over the median daily floor of the same tariff.
    peer_tariff_base_ratio,
    /// Days from the meter's first reading to its last (its own span, not the run's).
    span_days,
    /// Wander of the nightly mean load (00-06 local) since the first "on" night: a night rig
    /// draws the same every night; storage heating charges what the weather asks for.
    night_mean_jitter,
    /// Correlation of the daily mean load (since the onset) and of the nightly mean load with
    /// the peer group's common day-to-day signal (a weather proxy: heated homes move together;
    /// a rig does not move at all).
    peer_corr,
    night_peer_corr,
    /// Relative change of the daily / nightly mean per relative change of the peer signal
    /// (heated homes ~1 or more; a rig under a household ~its household share).
    peer_elasticity,
    night_peer_elasticity,
    /// The level held most of each day (daily 25th percentile; median over days since it
    /// rose above the daily floor's level) and its day-to-day wander: a rig curtailed for a few
    /// hours every day holds it while its daily floor falls to the household's.
    held_kw,
    held_jitter,
    /// On the days the held level is on: how crisp the daily off-schedule is (1 = the same
    /// hours off every day) and the share of hours mostly off.
    schedule_crisp,
    off_hours_share,
    /// First slot of the first day the held level is on (the onset of a curtailed rig).
    first_held_slot,
    /// Grid slots of the meter's first and last reading.
    first_slot,
    last_slot,
    /// Range over the local hours of each hour's low load (10th percentile over days, since the
    /// onset), kW: a rig's floor is the same at every hour; heating, shops and bakeries run on
    /// a daily schedule or the diurnal temperature.
    floor_profile_kw,
    /// Slot where the later step (capacity added) began.
    growth_slot,
    /// How far the highest hour of the daily block of "on" hours (since the first "on" night)
    /// rises above the block's typical hour, over it: a night-tariff rig never exceeds its level;
    /// storage heaters with an immersion heater at the end of the window do.
    on_block_excess,
    /// How fully the load holds its daily block's level hour by hour (the lowest inner hour's
    /// reading over the median one, median over days since the block's level; see
    /// [`nightblock::block_fill`]): a rig ~1; a cycling heat pump or part-charged storage heating
    /// well below.
    block_fill,
    /// Share of the daily off hours that fall in the local evening peak (15-22 h): where a
    /// time-of-use miner curtails; grow lights on 18/6 go dark whenever the grower chose.
    off_peak_share,
    /// Share of the days, from the first one the load held half its floor since the onset
    /// (`base_after_kw`) for most of the day, spent mostly below it: the days the load was off.
    /// A 24/7 rig is off only through its outages (hours); a load switched by the day is off on
    /// many.
    low_days_share,
    /// Share of present slots inside runs of at least [`FLATLINE_MIN_HOURS`] of exactly equal
    /// readings above [`FLATLINE_MIN_KW`]: a stuck register or a block the meter-data system
    /// filled with a mean. Measured load at that level always moves (1-3% noise on a rig,
    /// voltage on a heater); such a block is not a measurement, whatever flag it carries.
    flatline_share,
}

/// Shortest run of exactly equal readings (hours) that is a flat line, not a measurement.
pub const FLATLINE_MIN_HOURS: f64 = 6.0;
/// Level (kW) above which a flat line cannot be a meter's resolution steps on a small load.
pub const FLATLINE_MIN_KW: f32 = 0.3;

/// Minimum gap (kW) between the median and the 90th-percentile daily floor for "on" days to
/// mean anything: a third of the smallest ASIC.
pub const ON_LEVEL_MIN_KW: f32 = 0.3;

/// Floors below this (kW) are a household's: their hourly profile is not computed (the score's
/// level evidence starts above a household floor anyway).
pub const PROFILE_MIN_FLOOR_KW: f32 = 0.3;

/// Reused buffers of one worker.
#[derive(Debug, Default)]
pub struct Scratch {
    kw: Vec<f32>,
    masked: Vec<f32>,
    buf: Vec<f32>,
    tmp: Vec<f32>,
    daily: Vec<f32>,
    nights: Vec<f32>,
    day_floors: Vec<f32>,
    daily_kw: Vec<f32>,
    night_kw: Vec<f32>,
    held: Vec<f32>,
    high: Vec<f32>,
    hours: [Vec<f32>; 24],
    hourly: Vec<f32>,
    stats: baseload::DayStats,
    base: baseload::BaseScratch,
    on: ondays::OnDaysScratch,
}

/// Features of meter `i` (its view built on the spot: for one-off calls, tests and benches;
/// [`compute`] shares views between meters).
pub fn meter_features(ctx: &FeatureContext<'_>, i: usize, sc: &mut Scratch) -> MeterFeatures {
    meter_features_in(ctx, &ctx.view_of(i), None, i, sc)
}

/// Features of meter `i` on its view `v`; `proxy` is the common day-to-day signal of its peer
/// group (per grid day, see [`peer_proxy`]), when there is one.
pub fn meter_features_in(
    ctx: &FeatureContext<'_>,
    v: &View,
    proxy: Option<&DayProxy>,
    i: usize,
    sc: &mut Scratch,
) -> MeterFeatures {
    let m = ctx.matrix;
    let hours = m.grid.interval_hours() as f32;
    let row = &m.row(i)[v.offset..v.offset + v.len()];
    let cal = &v.calendar;
    let days = &v.days;
    sc.kw.clear();
    sc.kw.extend(row.iter().map(|x| x / hours));
    let kw = &sc.kw;
    let mut f = MeterFeatures::nan();
    let (lv, kwh) = level::level_and_sum(kw, row, &mut sc.buf);
    let cov = m.coverage(i);
    f.mean_kw = lv.mean_kw;
    f.kwh_total = kwh as f32;
    f.coverage = if v.is_empty() {
        0.0
    } else {
        (f64::from(cov.present) / v.len() as f64) as f32
    };
    f.estimated_share = if cov.present > 0 {
        cov.estimated as f32 / cov.present as f32
    } else {
        f32::NAN
    };
    let first = row.iter().position(|x| !x.is_nan());
    let last = row.iter().rposition(|x| !x.is_nan());
    if let (Some(a), Some(b)) = (first, last) {
        f.first_slot = (v.offset + a) as f32;
        f.last_slot = (v.offset + b) as f32;
        f.span_days = ((b + 1 - a) as f64 * m.grid.interval_hours() / 24.0) as f32;
    }
    f.flatline_share = flatline_share(row, hours);
    f.cv = lv.cv;
    f.p10_kw = lv.p10_kw;
    f.p50_kw = lv.p50_kw;
    f.p90_kw = lv.p90_kw;
    f.max_kw = lv.max_kw;
    f.near_median_share = lv.near_median_share;
    if lv.present == 0 {
        return f;
    }
    // Floors, daily means and the rhythm are the level's: a rig's outages (hours at zero, then
    // back at the same draw) are taken out of them, or every outage day would read as a day off.
    let outages = outage::mask_outages(kw, hours, days.len(), &mut sc.masked);
    let fk: &[f32] = if outages > 0 { &sc.masked } else { kw };
    // One pass for the per-day counts and sums the floors, the means and the rhythm share.
    sc.stats.compute(fk, cal, days);
    let b = baseload::baseload_with(
        fk,
        cal,
        days,
        &sc.stats,
        [&mut sc.daily, &mut sc.nights, &mut sc.day_floors],
        &mut sc.base,
    );
    // Per-day means: of the whole day and of the night hours (a night rig draws the same
    // energy every night; storage heating charges what the weather asks for).
    sc.stats.means(cal, &mut sc.daily_kw, &mut sc.night_kw);
    f.base_kw = b.base_kw;
    f.base_cv = b.base_cv;
    f.base_p90_kw = b.base_p90_kw;
    f.base_jitter = b.base_jitter;
    f.night_jitter = b.night_jitter;
    f.night_floor_kw = b.night_floor_kw;
    f.day_floor_kw = b.day_floor_kw;
    let mut first_night_day = 0;
    // A night load that began at a dated step (and added devices later) while the day hours'
    // floor stayed where it was: its level is the nights' since the last step, however late in
    // the window it began.
    // Nights that never differ by a step's size have none: most meters skip the search.
    let mut night_step = None;
    let (lo, hi) = sc
        .nights
        .iter()
        .filter(|x| !x.is_nan())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    if hi - lo >= steps::MIN_STEP_KW {
        if let (Some(s), growth) = steps::onset_and_growth(&sc.nights) {
            if s.is_onset() {
                let last = growth.map_or(s.day, |g| g.day);
                let [since] = level::quantiles(&mut sc.buf, &sc.nights[last..], [0.5]);
                let [day_before] = level::quantiles(&mut sc.buf, &sc.day_floors[..s.day], [0.5]);
                let [day_after] = level::quantiles(&mut sc.buf, &sc.day_floors[s.day..], [0.5]);
                if since > f.night_floor_kw && (day_after - day_before).abs() < 0.5 * s.size_kw() {
                    f.night_floor_kw = since;
                    night_step = Some((s.day, last));
                }
            }
        }
    }
    if f.night_floor_kw - f.day_floor_kw >= ON_LEVEL_MIN_KW {
        let mid = (f.night_floor_kw + f.day_floor_kw) / 2.0;
        let first = night_step
            .map(|s| s.0)
            .or_else(|| sc.nights.iter().position(|x| *x > mid));
        if let Some(d) = first {
            f.first_night_slot = (v.offset + days[d].start) as f32;
            first_night_day = d;
        }
        // The block's shape at its present level (since devices were last added).
        let block_day = night_step.map_or(first_night_day, |s| s.1);
        let from = days.get(block_day).map_or(0, |r| r.start);
        let (excess, block) =
            nightblock::on_block_excess(kw, cal, from, &mut sc.hours, &mut sc.buf);
        f.on_block_excess = excess;
        f.block_fill =
            nightblock::block_fill(fk, cal, days, block_day, &block, &mut sc.buf, &mut sc.tmp);
        // The night floor's wander since the first "on" night: the nights before a rig's onset
        // are the household's, not the rig's.
        if first_night_day > 0 {
            let since = &sc.nights[first_night_day..];
            let level = level::quantiles(&mut sc.buf, since, [0.5])[0];
            f.night_jitter = baseload::robust_jitter(since, level, &mut sc.tmp);
        }
    }
    // Night energy since the first "on" night: its wander from night to night, and how it
    // moves with the peers' common signal (weather).
    let nights_on = &sc.night_kw[first_night_day.min(sc.night_kw.len())..];
    let night_level = level::quantiles(&mut sc.buf, nights_on, [0.5])[0];
    f.night_mean_jitter = baseload::robust_jitter(nights_on, night_level, &mut sc.tmp);
    let r = rhythm::rhythm_with(fk, cal, 0, Some((days, &sc.stats)), &mut sc.hourly);
    if lv.p90_kw - lv.p10_kw > 0.0 {
        let mid = (lv.p10_kw + lv.p90_kw) / 2.0;
        f.duty_cycle = kw.iter().filter(|x| **x > mid).count() as f32 / lv.present as f32;
    }
    if let Some(o) = ondays::on_days(fk, cal, days, hours, ON_LEVEL_MIN_KW, &mut sc.on) {
        // The slot in the blocks where it came on.
        let mid = (o.off_kw + o.on_kw) / 2.0;
        let w = o.switched_on.clone();
        let slot = steps::came_on_within(fk, w.clone(), mid, hours).unwrap_or(w.start);
        f.first_on_slot = (v.offset + slot) as f32;
        f.on_days_share = o.share;
        f.on_level_cv = o.cv;
        f.on_kw = o.on_kw;
        f.off_kw = o.off_kw;
    }
    // Held level: a rig off for a few hours a day (curtailed at the evening peak). Only where
    // the load spends at least half its time well above its low level: a household does not,
    // and most meters skip the per-day selections.
    let maybe_held = lv.p50_kw - lv.p10_kw >= ON_LEVEL_MIN_KW;
    if maybe_held {
        baseload::daily_held(kw, cal, days, &mut sc.held, &mut sc.high, &mut sc.buf);
    } else {
        sc.held.clear();
        sc.high.clear();
    }
    let held_all = level::quantiles(&mut sc.buf, &sc.held, [0.9])[0];
    if maybe_held && held_all - b.base_kw >= ON_LEVEL_MIN_KW {
        let mid = (held_all + b.base_kw) / 2.0;
        let first_on = sc.held.iter().position(|x| *x > mid).unwrap_or(0);
        let slot = steps::came_on_slot(kw, days, first_on, b.base_kw, held_all, hours);
        f.first_held_slot = (v.offset + slot) as f32;
        let since = &sc.held[first_on..];
        f.held_kw = level::quantiles(&mut sc.buf, since, [0.5])[0];
        f.held_jitter = baseload::robust_jitter(since, f.held_kw, &mut sc.tmp);
    }
    // The daily on/off schedule, between the load's low and high levels, over the days it is
    // on for at least a quarter of the day (a night-tariff rig ~0.3, a curtailed one ~0.8).
    if maybe_held && lv.p90_kw - lv.p10_kw >= ON_LEVEL_MIN_KW {
        let mid = (lv.p10_kw + lv.p90_kw) / 2.0;
        let on_days = sc
            .high
            .iter()
            .enumerate()
            .filter(|(_, x)| **x > mid)
            .map(|(d, _)| d);
        (f.schedule_crisp, f.off_hours_share, f.off_peak_share) =
            baseload::schedule(kw, cal, days, on_days, mid);
    }
    f.diurnal_amp = r.diurnal_amp;
    f.acf_day = r.acf_day;
    f.acf_week = r.acf_week;
    f.night_day_ratio = r.night_day_ratio;
    f.weekend_ratio = r.weekend_ratio;
    f.base_after_kw = b.base_kw;
    f.base_cv_after = b.base_cv;
    f.mean_after_kw = lv.mean_kw;
    f.base_jitter_after = b.base_jitter;
    f.diurnal_amp_after = r.diurnal_amp;
    f.acf_day_after = r.acf_day;
    f.near_median_after = lv.near_median_share;
    let mut after_day = 0usize;
    let (first, growth) = steps::onset_and_growth(&sc.daily);
    let grid_day = |d: usize| v.grid_day.get(d).copied().unwrap_or(0) as f32;
    if let Some(g) = growth {
        f.growth_day = grid_day(g.day);
        f.growth_kw = g.size_kw();
        f.growth_slot = (v.offset + steps::onset_slot(kw, days, &g, hours)) as f32;
    }
    if let Some(step) = first {
        f.step_day = grid_day(step.day);
        f.step_before_kw = step.before_kw;
        f.step_after_kw = step.after_kw;
        f.step_t = step.t;
        let onset = steps::onset_slot(kw, days, &step, hours);
        f.onset_slot = (v.offset + onset) as f32;
        if step.is_onset() {
            // The rig's power now: the floor since the last step.
            let last = growth.map_or(step.day, |g| g.day);
            f.base_after_kw = level::quantiles(&mut sc.buf, &sc.daily[last..], [0.5])[0];
            f.base_cv_after = crate::stats::cv(&sc.daily[step.day..]);
            let after_level = level::level(&kw[onset..], &mut sc.buf);
            f.mean_after_kw = after_level.mean_kw;
            f.near_median_after = after_level.near_median_share;
            let ra = rhythm::rhythm_with(fk, cal, onset, Some((days, &sc.stats)), &mut sc.hourly);
            f.diurnal_amp_after = ra.diurnal_amp;
            f.acf_day_after = ra.acf_day;
            after_day = step.day;
        }
    }
    // Steady between steps: the wander of the daily floor about its level between the steps
    // up since the onset (an outage day is one outlier; a slow drift over weeks is not), or of
    // the night floor where it is steadier (rooftop solar lowers the net floor by day, not at
    // night).
    {
        let from = after_day.min(sc.daily.len());
        let cuts = steps::step_cuts(&sc.daily[from..]);
        let last = cuts.last().copied().unwrap_or(0);
        let day_level = level::quantiles(&mut sc.buf, &sc.daily[from + last..], [0.5])[0];
        let by_day = baseload::segment_spread(
            &sc.daily[from..],
            &cuts,
            day_level,
            &mut sc.buf,
            &mut sc.tmp,
        );
        let from_n = from.min(sc.nights.len());
        let night_level = level::quantiles(
            &mut sc.buf,
            &sc.nights[(from_n + last).min(sc.nights.len())..],
            [0.5],
        )[0];
        let by_night = baseload::segment_spread(
            &sc.nights[from_n..],
            &cuts,
            night_level,
            &mut sc.buf,
            &mut sc.tmp,
        );
        // `f32::min` keeps the other value when one is NaN.
        f.base_jitter_after = by_day.min(by_night);
        // Off days: days spent mostly below half the floor since the onset.
        f.low_days_share = baseload::low_days_share(kw, days, &sc.daily, f.base_after_kw);
    }
    f.snapbacks = outages as f32;
    let onset_rel = if after_day > 0 {
        days.get(after_day).map_or(0, |r| r.start)
    } else {
        0
    };
    // Outage slots (under half the floor) are not the floor's profile.
    let outage_below = if f.base_after_kw >= outage::OUTAGE_MIN_FLOOR_KW {
        0.5 * f.base_after_kw
    } else {
        f32::NEG_INFINITY
    };
    // Only a floor that could be a rig's (above a household's) needs its hourly profile.
    f.floor_profile_kw = if f.base_after_kw < PROFILE_MIN_FLOOR_KW {
        f32::NAN
    } else {
        baseload::floor_profile_range(kw, cal, onset_rel, outage_below, &mut sc.hours, &mut sc.buf)
    };
    if let Some(p) = proxy {
        let from = after_day.min(sc.daily_kw.len());
        (f.peer_corr, f.peer_elasticity) = p.fit(&v.grid_day[from..], &sc.daily_kw[from..]);
        let from_n = first_night_day.min(sc.night_kw.len());
        (f.night_peer_corr, f.night_peer_elasticity) =
            p.fit(&v.grid_day[from_n..], &sc.night_kw[from_n..]);
    }
    if let Some(temp) = &v.daily_temp {
        // Over the days since the onset: a rig starting in a cold spell is not heating.
        let from = after_day.min(sc.daily_kw.len());
        let t = weather::temp_response(&sc.daily_kw[from..], &temp[from.min(temp.len())..]);
        f.temp_slope = t.slope_kw_per_c;
        f.temp_corr = t.corr;
    }
    f
}

/// Features of every meter, in matrix order. `parallel = false` runs on the calling thread
/// (the results are identical either way).
pub fn compute(ctx: &FeatureContext<'_>, parallel: bool) -> Vec<MeterFeatures> {
    let (views, of) = ctx.views();
    let proxies = peer_proxy(ctx, &views, &of, parallel);
    let mut out = compute_own(ctx, &views, &of, &proxies, parallel);
    let levels = PeerLevels::of(&out, &ctx.tariff, &ctx.feeder);
    levels.apply(&mut out, &ctx.tariff, &ctx.feeder);
    out
}

/// Each meter's features from its own row, view and peer group's proxy (`proxies`, made by
/// [`peer_proxy`] or taken from a model), in matrix order: everything but the peer ratios,
/// which need the [`PeerLevels`] of the whole population.
pub fn compute_own(
    ctx: &FeatureContext<'_>,
    views: &[View],
    of: &[u32],
    proxies: &proxy::Proxies,
    parallel: bool,
) -> Vec<MeterFeatures> {
    let n = ctx.matrix.n_meters();
    let one = |sc: &mut Scratch, i: usize| {
        let p = proxies.group[i].map(|g| &proxies.series[g as usize]);
        meter_features_in(ctx, &views[of[i] as usize], p, i, sc)
    };
    if parallel {
        (0..n)
            .into_par_iter()
            .map_init(Scratch::default, |sc, i| one(sc, i))
            .collect()
    } else {
        let mut sc = Scratch::default();
        (0..n).map(|i| one(&mut sc, i)).collect()
    }
}

/// Median of the finite values (`NaN` if none).
fn median(mut v: Vec<f32>) -> f32 {
    v.retain(|x| x.is_finite());
    crate::stats::median_mut(&mut v).unwrap_or(f32::NAN)
}

/// Median per segment id (`None` = meters without one) of a feature.
pub type SegmentMedians = std::collections::BTreeMap<Option<u32>, f32>;

/// The population's levels that the peer ratios compare a meter with: the median mean load per
/// tariff and per feeder, and the median daily floor per tariff. Level relative to segment
/// peers: the Irkutsk rule of thumb is "consumption well above comparable premises (>= 2x)"
/// (DOMAIN.md).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerLevels {
    pub tariff_mean_kw: SegmentMedians,
    pub tariff_base_kw: SegmentMedians,
    pub feeder_mean_kw: SegmentMedians,
}

impl PeerLevels {
    /// The medians of `f` (the meters' own features) by segment.
    pub fn of(f: &[MeterFeatures], tariff: &[Option<u32>], feeder: &[Option<u32>]) -> Self {
        let groups = |seg: &[Option<u32>], get: fn(&MeterFeatures) -> f32| {
            let mut by: std::collections::BTreeMap<Option<u32>, Vec<f32>> = Default::default();
            for (x, s) in f.iter().zip(seg) {
                by.entry(*s).or_default().push(get(x));
            }
            by.into_iter().map(|(k, v)| (k, median(v))).collect()
        };
        PeerLevels {
            tariff_mean_kw: groups(tariff, |x| x.mean_kw),
            tariff_base_kw: groups(tariff, |x| x.base_kw),
            feeder_mean_kw: groups(feeder, |x| x.mean_kw),
        }
    }

    /// Sets each meter's peer ratios (`NaN` where its segment has no level).
    pub fn apply(&self, f: &mut [MeterFeatures], tariff: &[Option<u32>], feeder: &[Option<u32>]) {
        let ratio = |a: f32, b: Option<&f32>| match b {
            Some(&b) if b > 1e-3 => a / b,
            _ => f32::NAN,
        };
        for (i, x) in f.iter_mut().enumerate() {
            x.peer_tariff_ratio = ratio(x.mean_kw, self.tariff_mean_kw.get(&tariff[i]));
            x.peer_tariff_base_ratio = ratio(x.base_kw, self.tariff_base_kw.get(&tariff[i]));
            x.peer_feeder_ratio = ratio(x.mean_kw, self.feeder_mean_kw.get(&feeder[i]));
        }
    }
}

/// Share of present slots of `row` (energy per slot) inside runs of at least
/// [`FLATLINE_MIN_HOURS`] of bitwise-equal readings above [`FLATLINE_MIN_KW`] (`NaN` without
/// present slots). Missing slots end a run.
pub fn flatline_share(row: &[f32], interval_hours: f32) -> f32 {
    let min_run = (FLATLINE_MIN_HOURS / f64::from(interval_hours))
        .ceil()
        .max(2.0) as usize;
    let min_energy = FLATLINE_MIN_KW * interval_hours;
    // A run of `min_run` needs `min_run - 1` neighbours of equal bits at or above `min_energy`
    // (the second of each pair): most rows have fewer in all (readings at a meter's
    // resolution repeat now and then), and a count of such neighbours tells so quickly.
    // (Neighbours as two shifted slices, and counts rather than a flag, so the loops run in
    // vector registers.)
    let after = row.get(1..).unwrap_or_default();
    let repeats: u32 = row
        .iter()
        .zip(after)
        .map(|(a, b)| u32::from((a.to_bits() == b.to_bits()) & (*b >= min_energy)))
        .sum();
    if (repeats as usize) + 1 < min_run {
        let present: u32 = row.iter().map(|v| u32::from(!v.is_nan())).sum();
        return if present == 0 { f32::NAN } else { 0.0 };
    }
    let (mut present, mut flat, mut run) = (0usize, 0usize, 0usize);
    let mut prev = f32::NAN;
    for &v in row {
        if v.is_nan() {
            if run >= min_run {
                flat += run;
            }
            run = 0;
            prev = f32::NAN;
            continue;
        }
        present += 1;
        if v.to_bits() == prev.to_bits() && v >= min_energy {
            run += 1;
        } else {
            if run >= min_run {
                flat += run;
            }
            run = 1;
        }
        prev = v;
    }
    if run >= min_run {
        flat += run;
    }
    if present == 0 {
        f32::NAN
    } else {
        flat as f32 / present as f32
    }
}

/// Helpers for other stages' tests.
#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) fn blank() -> super::MeterFeatures {
        super::MeterFeatures::nan()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{LoadMatrix, TimeGrid};

    #[test]
    fn flatline_share_sees_stuck_blocks_not_noisy_rigs() {
        // Half-hourly: 2 days of a 3 kW rig with 1% noise, then 1 day stuck at one reading.
        let mut row: Vec<f32> = (0..96)
            .map(|i| 1.5 * (1.0 + 0.01 * ((i * 37 % 11) as f32 - 5.0) / 5.0))
            .collect();
        row.extend(std::iter::repeat_n(1.5f32, 48));
        let s = flatline_share(&row, 0.5);
        assert!((s - 48.0 / 144.0).abs() < 0.01, "{s}");
        // A household's small readings repeating at the meter's resolution are not a flat line.
        let home = vec![0.05f32; 48];
        assert_eq!(flatline_share(&home, 0.5), 0.0);
        // Five hours of one value is not yet one; a gap ends a run.
        let mut short = vec![1.0f32; 10];
        short.push(f32::NAN);
        short.extend(vec![1.0f32; 10]);
        assert_eq!(flatline_share(&short, 0.5), 0.0);
        assert!(flatline_share(&[f32::NAN; 4], 0.5).is_nan());
    }

    fn matrix(meters: usize, days: usize, seed: u64) -> LoadMatrix {
        let grid = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 1800,
            n_slots: 48 * days,
        };
        let ids: Vec<Box<str>> = (0..meters).map(|i| format!("M{i:05}").into()).collect();
        let mut values = Vec::with_capacity(meters * grid.n_slots);
        for m in 0..meters {
            values.extend(
                level::tests::random_row(seed + m as u64, grid.n_slots)
                    .iter()
                    .map(|v| v * 0.5),
            );
        }
        LoadMatrix::from_parts(grid, ids, values, vec![]).unwrap()
    }

    #[test]
    fn parallel_equals_sequential() {
        let m = matrix(300, 14, 3);
        let cal = Calendar::new(&m.grid, chrono_tz::UTC);
        let temp: Vec<f32> = (0..m.grid.n_slots)
            .map(|s| 5.0 + (s % 48) as f32 * 0.1)
            .collect();
        let mut ctx = FeatureContext::new(&m, &cal).with_temperature(&temp);
        ctx.tariff = (0..300).map(|i| Some((i % 3) as u32)).collect();
        let a = compute(&ctx, true);
        let b = compute(&ctx, false);
        let bits = |v: &[MeterFeatures]| -> Vec<u32> {
            v.iter()
                .flat_map(|f| f.values())
                .map(f32::to_bits)
                .collect()
        };
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(FEATURE_NAMES.len(), a[0].values().len());
    }

    #[test]
    fn a_rig_step_is_seen() {
        let days = 20;
        let grid = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 1800,
            n_slots: 48 * days,
        };
        let onset = 10 * 48 + 20;
        let house: Vec<f32> = (0..grid.n_slots)
            .map(|s| {
                0.5 * (0.2
                    + if (36..44).contains(&(s % 48)) {
                        1.0
                    } else {
                        0.0
                    })
            })
            .collect();
        let rig: Vec<f32> = house
            .iter()
            .enumerate()
            .map(|(s, v)| if s >= onset { v + 0.5 * 6.5 } else { *v })
            .collect();
        let mut values = house.clone();
        values.extend(&rig);
        let m = LoadMatrix::from_parts(grid, vec!["H".into(), "R".into()], values, vec![]).unwrap();
        let cal = Calendar::new(&m.grid, chrono_tz::UTC);
        let f = compute(&FeatureContext::new(&m, &cal), true);
        let r = &f[1];
        assert_eq!(r.onset_slot as usize, onset);
        assert!((r.base_after_kw - 6.7).abs() < 1e-3, "{r:?}");
        assert!(
            r.step_t > 10.0 && f[0].step_t < 1.0,
            "{} {}",
            r.step_t,
            f[0].step_t
        );
        assert!(f[0].diurnal_amp > r.diurnal_amp);
    }
}
