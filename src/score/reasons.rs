//! Reasons in plain words, strongest first, for the inspector and for the customer who asks
//! why their door was knocked on. Each sentence states a measured fact, not a conclusion.

use crate::features::{Calendar, MeterFeatures};
use crate::ingest::MeterInfo;

use super::evidence::{Evidence, Form};

fn kw(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0} kW")
    } else {
        format!("{v:.1} kW")
    }
}

/// Sentences explaining the score of one meter.
pub fn reasons(
    f: &MeterFeatures,
    ev: &Evidence,
    fit: Option<(&'static str, u32, f32)>,
    cal: &Calendar,
    info: Option<&MeterInfo>,
    registered: bool,
    over_contract: bool,
) -> Vec<String> {
    let mut r = Vec::new();
    if registered {
        r.push("registered (licensed) miner: not a suspect".to_string());
        if over_contract {
            let c = info.and_then(|m| m.contracted_kw).unwrap_or(f64::NAN);
            r.push(format!(
                "draws {} at its 90th percentile, above its contracted {}",
                kw(f64::from(f.p90_kw)),
                kw(c)
            ));
        }
    }
    if ev.level <= 0.0 {
        return r;
    }
    let date = |slot: f32| -> String {
        let s = slot as usize;
        cal.day
            .get(s)
            .and_then(|&d| cal.dates.get(d as usize))
            .cloned()
            .unwrap_or_default()
    };
    let day_date = |d: f32| -> String { cal.dates.get(d as usize).cloned().unwrap_or_default() };
    match ev.form {
        Form::Continuous if ev.onset_in_window && f.growth_kw.is_finite() => r.push(format!(
            "baseload rose {} on {}, then {} more on {}, and stayed (from {} to {})",
            kw(f64::from(f.step_after_kw - f.step_before_kw)),
            date(f.onset_slot),
            kw(f64::from(f.growth_kw)),
            if f.growth_slot.is_finite() {
                date(f.growth_slot)
            } else {
                day_date(f.growth_day)
            },
            kw(f64::from(f.step_before_kw)),
            kw(f64::from(f.base_after_kw))
        )),
        Form::Continuous if ev.onset_in_window => r.push(format!(
            "baseload rose {} on {} and stayed (from {} to {})",
            kw(f64::from(f.step_after_kw - f.step_before_kw)),
            date(f.onset_slot),
            kw(f64::from(f.step_before_kw)),
            kw(f64::from(f.base_after_kw))
        )),
        Form::Continuous => r.push(format!(
            "never below {} day or night, all its {:.0} days of readings",
            kw(f64::from(f.base_after_kw)),
            if f.span_days.is_finite() {
                f64::from(f.span_days)
            } else {
                cal.n_days as f64
            }
        )),
        Form::NightOnly => r.push(format!(
            "a {} floor every night (00-06) that is gone by day{}",
            kw(f64::from(f.night_floor_kw - f.day_floor_kw)),
            ev.onset_slot
                .map_or(String::new(), |s| format!(", since {}", date(s as f32)))
        )),
        Form::Curtailed => r.push(format!(
            "holds {} most of every day, off for the same {:.0} hours each day{}",
            kw(f64::from(f.held_kw)),
            24.0 * f64::from(f.off_hours_share),
            ev.onset_slot
                .map_or(String::new(), |s| format!(", since {}", date(s as f32)))
        )),
        Form::Intermittent => r.push(format!(
            "on some days a floor of {} (other days: {}){}",
            kw(f64::from(f.on_kw)),
            kw(f64::from(f.off_kw)),
            ev.onset_slot
                .map_or(String::new(), |s| format!(", first on {}", date(s as f32)))
        )),
    }
    if ev.flat >= 0.5 && f.mean_after_kw > 0.0 {
        r.push(format!(
            "flat: {:.0}% of its load is a constant floor",
            100.0 * f64::from(f.base_after_kw / f.mean_after_kw).min(1.0)
        ));
    }
    if ev.no_rhythm >= 0.7 && ev.form == Form::Continuous {
        r.push(format!(
            "no daily rhythm (night/day load ratio {:.2})",
            f.night_day_ratio
        ));
    }
    if f.peer_tariff_ratio.is_finite() && f.peer_tariff_ratio >= 1.5 {
        let tariff = info
            .and_then(|m| m.tariff.as_deref())
            .unwrap_or("its tariff's");
        r.push(format!(
            "{:.1}x the median load of {tariff} meters",
            f.peer_tariff_ratio
        ));
    }
    if f.temp_corr.is_finite() && ev.not_heating >= 0.99 {
        r.push(format!(
            "no response to temperature (r = {:.2})",
            f.temp_corr
        ));
    } else if ev.not_heating < 0.5 && f.temp_corr.is_finite() && f.temp_corr < -0.3 {
        r.push(format!(
            "load follows cold weather (r = {:.2}): likely heating",
            f.temp_corr
        ));
    } else if ev.not_heating < 0.5 {
        let (c, e) = match ev.form {
            Form::NightOnly => (f.night_peer_corr, f.night_peer_elasticity),
            _ => (f.peer_corr, f.peer_elasticity),
        };
        r.push(format!(
            "load moves with its neighbours' from day to day (r = {c:.2}, {e:.1}x their change): likely heating"
        ));
    }
    if f.snapbacks >= 1.0 {
        r.push(format!(
            "back to the same level within minutes after {:.0} outage(s)",
            f.snapbacks
        ));
    }
    if let Some((model, n, err)) = fit {
        if err <= 0.15 && n <= 50 {
            r.push(format!("{} matches {n} x {model}", kw(ev.rig_kw)));
        }
    }
    if ev.trust < 0.9 {
        r.push(format!(
            "{:.0}% of readings are estimated: flatness may be an artefact",
            100.0 * f.estimated_share
        ));
    }
    if ev.cluster.is_some_and(|c| c >= 0.5) {
        r.push("its cluster of meters looks like mining load".to_string());
    }
    r
}
