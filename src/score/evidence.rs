//! Evidence terms, each in [0, 1], and the score they make.
//!
//! - `level`: the load's floor stands above a household's by at least part of a device
//!   (DOMAIN.md: one ASIC 1.3-3.5 kW; GPU rigs from 0.6 kW; always-on home load ~0.2 kW).
//! - `flat`: most of the load is that floor (a rig's load factor > 0.9; a home's ~0.3).
//! - `steady`: the floor does not wander from day to day (a rig's moves only at its steps;
//!   heating's follows the weather daily).
//! - `no_rhythm`: no repeating daily pattern on top (rigs run 24 hours a day; shops, farms
//!   and heating schedules repeat every day).
//! - `not_heating`: the load does not follow cold weather (heating does; rigs do not).
//! - `peer`: level well above the same tariff's meters (Irkutsk: >= 2x comparable premises),
//!   which keeps flat commercial loads (refrigeration, servers) judged against shops.
//! - `trust`: share of the readings that are real, not estimated (flat estimates are not
//!   evidence).
//! - `cluster`: the meter's cluster centroid looks like a rig.
//!
//! A rig that runs only at night or in blocks of days is judged on its night floor or its
//! "on" days, with [`super::ScoreConfig::partial_form_weight`]; a night-only floor without
//! weather to show it is not heating gets [`super::ScoreConfig::night_without_weather_weight`]
//! (storage heaters draw the same shape). Shape terms are measured since the onset.
//!
//! score = level x (0.3 + 0.7 flat) x (0.1 + 0.9 steady) x (0.35 + 0.65 no_rhythm)
//!         x not_heating x (0.75 + 0.25 peer) x trust, then (24/7 form only) moved towards the
//!         cluster evidence by `cluster_weight` (0 by default). The floors of the factors keep
//!         one weak term from vetoing strong others. `level` keeps growing slowly past a device
//!         (up to 10 kW), so strong cases do not tie. A 24/7 floor that stepped up inside the
//!         window is also measured against the home's own floor before the step (`level` from
//!         `step_level_from_kw`, `peer` as its ratio), and its days off count against `steady`.

use crate::features::MeterFeatures;
use crate::ingest::MeterInfo;
use crate::stats::ramp;

use super::ScoreConfig;

/// The rig form the evidence is strongest for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// A floor all day, every day (or since the onset).
    Continuous,
    /// A floor at night only.
    NightOnly,
    /// A floor on some days only.
    Intermittent,
    /// A floor held most of every day, off for the same few hours each day (a time-of-use
    /// miner curtailed over the evening peak).
    Curtailed,
}

impl Form {
    /// The form's name in outputs (`continuous`, `night_only`, `intermittent`, `curtailed`).
    pub fn name(self) -> &'static str {
        match self {
            Form::Continuous => "continuous",
            Form::NightOnly => "night_only",
            Form::Intermittent => "intermittent",
            Form::Curtailed => "curtailed",
        }
    }
}

/// The evidence of one meter.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub form: Form,
    /// Estimated rig power: the floor above a household's (kW).
    pub rig_kw: f64,
    pub level: f64,
    pub flat: f64,
    pub steady: f64,
    pub no_rhythm: f64,
    pub not_heating: f64,
    pub peer: f64,
    pub trust: f64,
    /// The cluster evidence, where it moved the score (`cluster_weight` > 0, the 24/7 form).
    pub cluster: Option<f64>,
    pub onset_in_window: bool,
    /// Slot where the rig started, when inside the window.
    pub onset_slot: Option<usize>,
    pub score: f64,
}

/// Share of the hours a curtailed rig is off: 2 to 5 of 24 (DOMAIN.md: time-of-use miners
/// switch off over the evening peak for 3-5 hours), shorter than the 6 dark hours of grow
/// lights on an 18/6 photoperiod (counted in whole hours, a block of 5.x hours reads as 5).
const CURTAILED_OFF_SHARE: (f64, f64) = (0.08, 0.22);

/// A curtailed rig's off hours are in the evening peak (time-of-use tariffs, demand response):
/// at least this share of them.
const CURTAILED_PEAK_SHARE: f64 = 0.75;

/// Share of the score that orders meters by their floor above a household's alone.
const TIE_BREAK: f64 = 0.02;

/// Share of a daily rhythm's penalty a 24/7 floor that is the same at every hour is spared:
/// the rhythm is the household living on top of the device. A household's days differ; days so
/// alike that they run by the clock (`regular`) are a business's (a 24/7 shop's refrigeration
/// is a uniform floor too, with its opening hours on top), and are spared less.
pub const RHYTHM_FORGIVEN_ON_UNIFORM_FLOOR: f64 = 0.8;
pub const REGULARITY_FORGIVEN_ON_UNIFORM_FLOOR: f64 = 0.6;

fn finite_or(v: f32, d: f64) -> f64 {
    if v.is_finite() {
        f64::from(v)
    } else {
        d
    }
}

/// The evidence of one meter, in the form it is strongest for: each rig form (around the
/// clock, night-only, whole days off, curtailed at the peak) is judged with its own terms and
/// the highest score wins (ties go to the earlier form), so a rig is not judged in a form that
/// merely reads a larger kW from it (an intermittent rig's "floor since its step" is not a 24/7
/// floor).
pub fn evidence(
    f: &MeterFeatures,
    cluster: Option<f64>,
    info: Option<&MeterInfo>,
    cfg: &ScoreConfig,
) -> Evidence {
    let mut best: Option<Evidence> = None;
    for form in [
        Form::Continuous,
        Form::NightOnly,
        Form::Intermittent,
        Form::Curtailed,
    ] {
        let e = evidence_as(f, cluster, info, cfg, form);
        if best.as_ref().is_none_or(|b| e.score > b.score) {
            best = Some(e);
        }
    }
    best.unwrap_or_else(|| evidence_as(f, cluster, info, cfg, Form::Continuous))
}

/// The evidence of one meter judged as a rig of form `only`.
fn evidence_as(
    f: &MeterFeatures,
    cluster: Option<f64>,
    _info: Option<&MeterInfo>,
    cfg: &ScoreConfig,
    only: Form,
) -> Evidence {
    // The household floor of this meter's tariff: its floor over its tariff ratio.
    let peer_floor = if f.peer_tariff_base_ratio.is_finite() && f.peer_tariff_base_ratio > 0.0 {
        f64::from(f.base_kw / f.peer_tariff_base_ratio)
    } else {
        cfg.household_floor_kw
    };
    let household = peer_floor.clamp(0.05, 0.5);
    let base_after = finite_or(f.base_after_kw, 0.0);
    let mean_after = finite_or(f.mean_after_kw, 0.0);
    let continuous = (base_after - household).max(0.0);
    // "On" days must be a real minority or majority pattern, not every day (continuous) or a
    // single hot day.
    // And off days must fall back to a household's floor: a rig switched off leaves
    // nothing, while heating on cold days only lifts an already high floor (~1.3x).
    let on_share = finite_or(f.on_days_share, 0.0);
    let (on_level, off_level) = (finite_or(f.on_kw, 0.0), finite_or(f.off_kw, 0.0));
    let contrast = if on_level > 0.0 {
        (on_level - off_level) / on_level
    } else {
        0.0
    };
    let on_days = if on_share > 0.0 && contrast >= cfg.intermittent_contrast {
        (on_level - off_level.max(household)).max(0.0)
    } else {
        0.0
    };
    // The floor of the curtailed and 24/7 forms: the median day's.
    let off_level = finite_or(f.base_kw, 0.0);
    let w = cfg.partial_form_weight;
    let step_ok = f.step_t.is_finite()
        && f64::from(f.step_t) >= cfg.step_min_t
        && f64::from(f.step_after_kw - f.step_before_kw) >= cfg.step_min_kw;
    // The floor since the onset above the home's own floor before it.
    let stepped_kw = if step_ok {
        (base_after - finite_or(f.step_before_kw, 0.0).max(0.0)).max(0.0)
    } else {
        0.0
    };
    // Load that moves with the peers' common day-to-day signal (the weather they share), by
    // as much as they do: heating. A rig under a household keeps the household's correlation
    // but only its share of the movement.
    let proxy_heat = |corr: f32, elasticity: f32| {
        ramp(
            finite_or(corr, 0.0),
            cfg.proxy_corr_from,
            cfg.proxy_corr_full,
        ) * ramp(
            finite_or(elasticity, 0.0),
            cfg.proxy_elasticity_from,
            cfg.proxy_elasticity_full,
        )
    };
    // A night-only floor is also what storage heaters draw on a night tariff. Weather showing
    // a temperature response (or none) settles it. Without weather, physics does: a rig draws
    // the same energy every night and does not move with its neighbours; storage heating
    // charges what the weather asks for, night by night.
    let night_w = if f.temp_corr.is_finite() {
        if f.temp_corr > -0.3 {
            w
        } else {
            cfg.night_without_weather_weight
        }
    } else {
        let steady_nights = 1.0
            - ramp(
                finite_or(f.night_mean_jitter, 1.0),
                cfg.night_jitter_from,
                cfg.night_jitter_full,
            );
        let moves = proxy_heat(f.night_peer_corr, f.night_peer_elasticity);
        // And the same at every hour of its night block (no immersion heater at the end of
        // the window, no charge tapering off as the core fills).
        let level_block = 1.0
            - ramp(
                finite_or(f.on_block_excess, 1.0),
                cfg.on_block_excess_from,
                cfg.on_block_excess_full,
            );
        cfg.night_without_weather_weight
            + (w - cfg.night_without_weather_weight) * steady_nights * level_block * (1.0 - moves)
    };
    // Curtailed: held most of the day, off at the same hours every day (a timer or a tariff,
    // not a cycling compressor), for a few hours only (2-10 h of 24), falling to a household
    // floor. Heating and refrigeration cycle at random; a night-only load is off most hours.
    let off_hours = finite_or(f.off_hours_share, 0.0);
    let crisp = ramp(
        finite_or(f.schedule_crisp, 0.0),
        cfg.schedule_crisp_from,
        cfg.schedule_crisp_full,
    );
    let held = finite_or(f.held_kw, 0.0);
    let held_contrast = if held > 0.0 {
        (held - off_level.max(household)) / held
    } else {
        0.0
    };
    let curtailed = if (CURTAILED_OFF_SHARE.0..=CURTAILED_OFF_SHARE.1).contains(&off_hours)
        && held_contrast >= cfg.intermittent_contrast
        && finite_or(f.off_peak_share, 0.0) >= CURTAILED_PEAK_SHARE
    {
        (held - off_level.max(household)).max(0.0)
    } else {
        0.0
    };
    let curtailed_w = w * crisp;
    // Night-only: a floor at night gone by day. A load held most of the day and off for a few
    // evening hours (curtailed) also leaves the 10-18 floor low; it is not night-only.
    let night = if curtailed > 0.0 {
        0.0
    } else {
        (finite_or(f.night_floor_kw, 0.0) - finite_or(f.day_floor_kw, 0.0).max(household)).max(0.0)
    };
    let (form, rig_kw) = [
        (Form::Continuous, continuous, 1.0),
        (Form::NightOnly, night, night_w),
        (Form::Intermittent, on_days, w),
        (Form::Curtailed, curtailed, curtailed_w),
    ]
    .into_iter()
    .find(|c| c.0 == only)
    .map(|(f, kw, _)| (f, kw))
    .unwrap_or((Form::Continuous, 0.0));
    let form_weight = match form {
        Form::Continuous => 1.0,
        Form::NightOnly => night_w,
        Form::Intermittent => w,
        Form::Curtailed => curtailed_w,
    };
    let mut level = ramp(rig_kw, cfg.level_from_kw, cfg.level_full_kw)
        * (0.85 + 0.15 * ramp(rig_kw.max(1e-3).ln(), cfg.level_full_kw.ln(), 10f64.ln()));
    if form == Form::Continuous && step_ok {
        // A dated step up that stayed: its size above the home's own earlier floor.
        level = level.max(0.85 * ramp(stepped_kw, cfg.step_level_from_kw, cfg.step_level_full_kw));
    }
    let flat = match form {
        Form::Continuous if mean_after > 0.0 => {
            ramp(base_after / mean_after, cfg.flat_from, cfg.flat_full)
        }
        Form::Continuous => 0.0,
        // A night-tariff rig is on for the tariff's hours (~7 h: duty ~0.3); grow lights run
        // 12 or 18 hours (DOMAIN.md: 12/12 or 18/6).
        // And it holds its level through every hour of its block, night after night.
        Form::NightOnly => {
            (1.0 - ramp(
                finite_or(f.duty_cycle, 1.0),
                cfg.night_duty_from,
                cfg.night_duty_full,
            )) * ramp(
                finite_or(f.block_fill, 1.0),
                cfg.block_fill_from,
                cfg.block_fill_full,
            )
        }
        // An intermittent rig's "on" days sit at one level.
        Form::Intermittent => 1.0 - ramp(finite_or(f.on_level_cv, 1.0), 0.05, 0.25),
        // Held for the hours it is on: the held level over the mean load.
        Form::Curtailed if mean_after > 0.0 => ramp(
            held * (1.0 - off_hours) / mean_after,
            cfg.flat_from,
            cfg.flat_full,
        ),
        Form::Curtailed => 0.0,
    };
    // A repeating daily pattern: how alike consecutive days are (autocorrelation at 24 h of
    // the load less its day's mean) times how big the pattern is (profile amplitude over the
    // mean). Or days so alike that even a small pattern is a schedule (business hours on top of
    // a refrigeration floor).
    let acf = finite_or(f.acf_day_after, 0.0).max(0.0);
    let pattern = acf * finite_or(f.diurnal_amp_after, 0.0);
    let lively = ramp(pattern, cfg.rhythm_from, cfg.rhythm_full);
    let regular = ramp(acf, cfg.regular_from, cfg.regular_full);
    // A rig's floor is the same at every hour of the day: what moves under it is a household's
    // floor (~0.1-0.3 kW) and the rig's own 1-3% noise. A floor that changes with the hour by
    // more is heating (diurnal temperature, thermostat schedule) or a business's hours. A
    // pattern on top of a uniform floor is the household living above the rig: it counts
    // against a rig only a little ([`RHYTHM_FORGIVEN_ON_UNIFORM_FLOOR`]), unless its days run
    // by the clock (a business; a shop's or a farm's schedule often moves its floor too).
    let profile = finite_or(f.floor_profile_kw, 0.0);
    let uniform_from = cfg.profile_from_kw + cfg.profile_share * rig_kw;
    let mut uniform = 1.0 - ramp(profile, uniform_from, uniform_from + cfg.profile_span_kw);
    if form == Form::Continuous && step_ok {
        // A sharp dated step up: one load switched on, the same at every hour since; what
        // varies by the hour is the household on top.
        uniform = uniform.max(ramp(
            finite_or(f.step_t, 0.0),
            cfg.step_uniform_t_from,
            cfg.step_uniform_t_full,
        ));
    }
    let no_rhythm = match form {
        Form::Continuous => {
            let rhythm = (lively * (1.0 - RHYTHM_FORGIVEN_ON_UNIFORM_FLOOR * uniform))
                .max(regular * (1.0 - REGULARITY_FORGIVEN_ON_UNIFORM_FLOOR * uniform));
            (1.0 - rhythm) * (0.4 + 0.6 * uniform)
        }
        _ => 1.0,
    };
    // Unknown jitter (under four days to compare) is neither for nor against.
    let neutral = (cfg.jitter_from + cfg.jitter_full) / 2.0;
    let jitter = match form {
        Form::NightOnly => finite_or(f.night_jitter, neutral),
        Form::Curtailed => finite_or(f.held_jitter, neutral),
        _ => finite_or(f.base_jitter_after, neutral),
    };
    // Switching on and off is what an intermittent rig does: its floor jumps by design.
    let steady = match form {
        Form::Intermittent => 1.0,
        // Around the clock: also on (nearly) every day.
        Form::Continuous => {
            (1.0 - ramp(jitter, cfg.jitter_from, cfg.jitter_full))
                * (1.0
                    - ramp(
                        finite_or(f.low_days_share, 0.0),
                        cfg.off_days_from,
                        cfg.off_days_full,
                    ))
        }
        _ => 1.0 - ramp(jitter, cfg.jitter_from, cfg.jitter_full),
    };
    // Heating moves its floor with the weather: a 24/7 floor that does not wander is not
    // following the peers' weather, whatever the household on top of it does.
    let floor_wanders = ramp(
        finite_or(f.base_jitter_after, 1.0),
        cfg.heating_wander_from,
        cfg.heating_wander_full,
    );
    let moves = match form {
        // Storage heating that charges through the whole 00-06 window on cold nights keeps
        // its night energy there steady: its nights are judged on the correlation alone.
        Form::NightOnly => proxy_heat(f.night_peer_corr, f.night_peer_elasticity),
        _ => proxy_heat(f.peer_corr, f.peer_elasticity) * floor_wanders,
    };
    // The same for the measured temperature: a household on top of a rig may follow the cold
    // closely, but a floor that does not wander is not heating.
    let cold = ramp(
        -finite_or(f.temp_corr, 0.0),
        cfg.heating_corr_from,
        cfg.heating_corr_full,
    ) * match form {
        Form::NightOnly => 1.0,
        _ => floor_wanders,
    };
    let not_heating = 1.0 - cold.max(moves);
    let mut peer = ramp(
        finite_or(f.peer_tariff_ratio, 1.0),
        cfg.peer_from,
        cfg.peer_full,
    );
    if form == Form::Continuous {
        // Its floor against the tariff's floors: a device that never switches off.
        peer = peer.max(ramp(
            finite_or(f.peer_tariff_base_ratio, 1.0),
            cfg.peer_floor_from,
            cfg.peer_floor_full,
        ));
    }
    if form == Form::Continuous && step_ok {
        // The home against its own floor before the step: the comparable premises closest
        // to hand.
        let before = finite_or(f.step_before_kw, 0.0).max(0.05);
        peer = peer.max(ramp(base_after / before, cfg.peer_from, cfg.peer_full));
    }
    // Readings that are not measurements: flagged estimates, and flat lines (a stuck register,
    // a block filled with its mean) whatever their flag. An intermittent reading whose "on"
    // days are the flat line has nothing else.
    let flatline = finite_or(f.flatline_share, 0.0);
    let flatline = match form {
        Form::Intermittent if on_share > 0.0 => (flatline / on_share).min(1.0),
        _ => flatline,
    };
    let trust = 1.0 - ramp(finite_or(f.estimated_share, 0.0).max(flatline), 0.05, 0.5);
    // Onset: the step of a continuous floor (the first one, when devices were added later), the
    // first "on" day of an intermittent rig, the first "on" night of a night-only one.
    let onset_slot = match form {
        Form::Continuous if step_ok => Some(f.onset_slot),
        Form::Intermittent => Some(f.first_on_slot),
        Form::NightOnly => Some(f.first_night_slot),
        Form::Curtailed => Some(f.first_held_slot),
        Form::Continuous => None,
    }
    .filter(|s| s.is_finite() && *s > 0.0)
    .map(|s| s as usize);
    let onset_in_window = onset_slot.is_some();
    let base = form_weight
        * level
        * (0.3 + 0.7 * flat)
        * (0.1 + 0.9 * steady)
        * (0.35 + 0.65 * no_rhythm)
        * not_heating
        * (0.75 + 0.25 * peer)
        * trust;
    // The cluster's rig-likeness describes a 24/7 shape (a floor of a device, most of the load
    // in it, no daily rhythm): evidence for that form only. A night-only, curtailed or
    // intermittent rig sits in a household's cluster by design.
    let evidence_score = match cluster {
        Some(c) if cfg.cluster_weight > 0.0 && form == Form::Continuous => {
            (1.0 - cfg.cluster_weight) * base + cfg.cluster_weight * c * level
        }
        _ => base,
    };
    // Below the level evidence, meters still differ in how far their floor stands above a
    // household's: a small share of the score (at most 0.02) orders them, so a 0.2 kW floor
    // above its peers ranks above a household at its peers' floor.
    let score = (1.0 - TIE_BREAK) * evidence_score + TIE_BREAK * ramp(rig_kw, 0.0, 1.0) * trust;
    Evidence {
        form,
        rig_kw,
        level,
        flat,
        steady,
        no_rhythm,
        not_heating,
        peer,
        trust,
        // Kept only where it moved the score (a reason names it).
        cluster: cluster.filter(|_| cfg.cluster_weight > 0.0 && form == Form::Continuous),
        onset_in_window,
        onset_slot,
        score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A household with a 3.25 kW rig on top since the window start, as the features see it.
    fn rig() -> MeterFeatures {
        let mut f = MeterFeatures::nan();
        f.base_kw = 3.4;
        f.base_after_kw = 3.4;
        f.mean_after_kw = 3.7;
        f.base_p90_kw = 3.45;
        f.base_jitter_after = 0.01;
        f.night_floor_kw = 3.45;
        f.day_floor_kw = 3.4;
        f.acf_day_after = 0.3;
        f.diurnal_amp_after = 0.25;
        f.near_median_after = 0.8;
        f.temp_corr = 0.1;
        f.peer_tariff_ratio = 9.0;
        f.peer_tariff_base_ratio = 17.0;
        f.estimated_share = 0.0;
        f.on_days_share = 0.0;
        f.duty_cycle = 0.5;
        f
    }

    fn score(f: &MeterFeatures) -> f64 {
        evidence(f, None, None, &ScoreConfig::default()).score
    }

    #[test]
    fn a_rig_scores_high() {
        let s = score(&rig());
        assert!(s > 0.8, "{s}");
    }

    #[test]
    fn hard_negatives_score_low() {
        let cfg = ScoreConfig::default();
        // Electric heating: a high floor that follows cold weather and wanders day to day.
        let mut heat = rig();
        heat.temp_corr = -0.9;
        heat.base_jitter_after = 0.2;
        assert!(score(&heat) < 0.1, "heating {}", score(&heat));
        // A 24/7 shop: flat refrigeration floor with business hours on top, every day alike;
        // the opening hours lift its floor by day (its hourly floor profile spans 2.5 kW).
        let mut shop = rig();
        shop.acf_day_after = 0.85;
        shop.diurnal_amp_after = 0.45;
        shop.peer_tariff_ratio = 1.2;
        shop.peer_tariff_base_ratio = 1.2;
        shop.floor_profile_kw = 2.5;
        assert!(score(&shop) < 0.4, "shop {}", score(&shop));
        // The same pattern on a floor that is the same at every hour: a household living
        // above a rig, which counts against the rig only a little.
        shop.floor_profile_kw = 0.2;
        shop.peer_tariff_ratio = 9.0;
        assert!(score(&shop) > 0.5, "household over a rig {}", score(&shop));
        // A flat line the meter-data system estimated.
        let mut est = rig();
        est.estimated_share = 0.9;
        assert!(score(&est) < 0.05, "estimates {}", score(&est));
        // Grow lights on 12/12 at night: night floor, off by day, on half the day.
        let mut grow = rig();
        grow.base_kw = 0.2;
        grow.base_after_kw = 0.2;
        grow.mean_after_kw = 3.0;
        grow.day_floor_kw = 0.2;
        grow.night_floor_kw = 6.0;
        grow.duty_cycle = 0.5;
        grow.night_jitter = 0.01;
        let e = evidence(&grow, None, None, &cfg);
        assert_eq!(e.form, Form::NightOnly);
        assert!(e.score < 0.3, "grow-op {}", e.score);
        // The same night floor for 7 hours (duty 0.3) with weather showing no heating: a rig.
        grow.duty_cycle = 0.3;
        assert!(score(&grow) > 0.5, "night rig {}", score(&grow));
        // Without weather and nothing to tell it from storage heaters: weighed down.
        grow.temp_corr = f32::NAN;
        assert!(
            score(&grow) < 0.37,
            "night shape without weather {}",
            score(&grow)
        );
        // Nights as alike as a rig's, at one level every on-hour, not moving with the
        // neighbours: a rig again.
        grow.night_mean_jitter = 0.01;
        grow.on_block_excess = 0.05;
        grow.night_peer_corr = 0.05;
        grow.night_peer_elasticity = 0.02;
        assert!(score(&grow) > 0.5, "steady night rig {}", score(&grow));
        // An hour of the night block 60% above the rest (an immersion heater at the end of
        // the off-peak window): storage heating.
        grow.on_block_excess = 0.6;
        assert!(
            score(&grow) < 0.37,
            "night block with a bump {}",
            score(&grow)
        );
        grow.on_block_excess = 0.05;
        // Nights that move with the neighbours' weather, by as much: storage heating (even
        // when a long charge keeps its 00-06 energy steady).
        grow.night_peer_corr = 0.7;
        grow.night_peer_elasticity = 1.2;
        assert!(
            score(&grow) < 0.37,
            "night load following the weather {}",
            score(&grow)
        );
        // A household: floor 0.15 kW.
        let mut home = rig();
        home.base_kw = 0.15;
        home.base_after_kw = 0.15;
        home.base_p90_kw = 0.2;
        home.mean_after_kw = 0.4;
        home.night_floor_kw = 0.15;
        home.day_floor_kw = 0.15;
        assert!(score(&home) < 0.01, "household {}", score(&home));
    }

    #[test]
    fn a_sharp_step_under_a_heated_home_is_a_rig() {
        // A home whose heat pump runs on a schedule (its hourly floor spans 2.4 kW) and moves
        // with the neighbours' weather; its floor jumped from 0.1 to 3.2 kW at one instant and
        // has not wandered since (1%).
        let mut f = rig();
        f.base_after_kw = 3.2;
        f.mean_after_kw = 4.7;
        f.acf_day_after = 0.68;
        f.diurnal_amp_after = 0.62;
        f.floor_profile_kw = 2.4;
        f.temp_corr = f32::NAN;
        f.peer_corr = 0.74;
        f.peer_elasticity = 0.7;
        f.step_before_kw = 0.1;
        f.step_after_kw = 3.15;
        f.step_t = 180.0;
        f.onset_slot = 400.0;
        let stepped = score(&f);
        assert!(stepped > 0.5, "stepped rig under heating {stepped}");
        // The same floor without the step: its hourly profile counts against it.
        let mut home = f;
        home.step_t = f32::NAN;
        assert!(score(&home) < 0.6 * stepped, "no step {}", score(&home));
        // A floor that wanders like heating (15% a day) and moves with the neighbours is
        // heating even after a step.
        f.base_jitter_after = 0.15;
        assert!(score(&f) < 0.1, "stepped heating {}", score(&f));
    }

    #[test]
    fn a_small_flat_floor_far_above_its_tariffs_counts_as_peer_evidence() {
        // A 0.8 kW floor since the window start under a lively household: the home's mean is
        // only 1.3x its tariff's, its floor 5x.
        let mut f = rig();
        f.base_kw = 0.8;
        f.base_after_kw = 0.8;
        f.base_p90_kw = 0.82;
        f.mean_after_kw = 0.9;
        f.night_floor_kw = 0.8;
        f.day_floor_kw = 0.8;
        f.peer_tariff_ratio = 1.3;
        f.peer_tariff_base_ratio = 5.0;
        let small = evidence(&f, None, None, &ScoreConfig::default());
        assert!(small.peer > 0.99, "peer {}", small.peer);
        // The same floor at its tariff's floor: no peer evidence.
        f.peer_tariff_base_ratio = 1.1;
        let common = evidence(&f, None, None, &ScoreConfig::default());
        assert!(common.peer < 0.01, "peer {}", common.peer);
        assert!(small.score > common.score + 0.1);
    }

    #[test]
    fn intermittent_rig_needs_off_days_at_household_level() {
        let mut f = rig();
        f.base_kw = 0.25;
        f.base_after_kw = 0.25;
        f.mean_after_kw = 1.5;
        f.base_p90_kw = 3.4;
        f.on_kw = 3.4;
        f.off_kw = 0.25;
        f.on_days_share = 0.4;
        f.on_level_cv = 0.02;
        f.night_floor_kw = 0.3;
        f.day_floor_kw = 0.25;
        let e = evidence(&f, None, None, &ScoreConfig::default());
        assert_eq!(e.form, Form::Intermittent);
        assert!(e.score > 0.5, "{}", e.score);
        // Cold days lifting a 3.5 kW heating floor to 4.6 kW are not on/off switching.
        f.base_kw = 3.5;
        f.off_kw = 3.5;
        f.on_kw = 4.6;
        let e = evidence(&f, None, None, &ScoreConfig::default());
        assert_ne!(e.form, Form::Intermittent);
    }
}
