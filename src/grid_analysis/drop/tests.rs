//! Unit tests of the load-drop estimator on synthetic daily series with known truth: a weather
//! effect, a weekly profile, AR(1) noise and an injected drop.

use chrono::Datelike;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use super::*;
use crate::grid_analysis::events::Event;

const N: usize = 260;
/// Late July: the pre-event days since January hold both heating and cooling weather.
const EVENT: usize = 200;

fn day0() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 1, 2).unwrap_or_default()
}

/// Temperature (°C) per day: a season plus weather spells.
fn temperatures(rng: &mut impl Rng) -> Vec<f64> {
    let noise = Normal::new(0.0, 1.5).unwrap();
    let mut spell = 0.0;
    (0..N)
        .map(|d| {
            spell = 0.7 * spell + noise.sample(rng);
            14.0 + 10.0 * (2.0 * std::f64::consts::PI * (d as f64 - 100.0) / 365.0).sin() + spell
        })
        .collect()
}

/// Load (MW) of a region of `level` MW: weekdays, heating and cooling, AR(1) noise, a drop of
/// `drop` MW from `at`, and an optional shock shared with other regions.
fn region(
    rng: &mut impl Rng,
    temp: &[f64],
    level: f64,
    drop: f64,
    at: usize,
    shared: &[f64],
) -> Vec<f64> {
    let noise = Normal::new(0.0, 0.012 * level).unwrap();
    let mut e = 0.0;
    (0..N)
        .map(|d| {
            let wd = (day0() + chrono::Days::new(d as u64))
                .weekday()
                .num_days_from_monday();
            let week = match wd {
                5 => -0.05,
                6 => -0.09,
                _ => 0.0,
            };
            let t = temp[d];
            let weather = 0.012 * (16.0 - t).max(0.0) + 0.02 * (t - 22.0).max(0.0);
            e = 0.6 * e + noise.sample(rng);
            let s = shared.get(d).copied().unwrap_or(0.0);
            level * (1.0 + week + weather + s) + e + if d >= at { drop } else { 0.0 }
        })
        .collect()
}

fn load(regions: Vec<(&str, Vec<f64>)>, temp: Vec<f64>) -> DailyLoad {
    DailyLoad {
        dates: (0..N)
            .map(|d| day0() + chrono::Days::new(d as u64))
            .collect(),
        regions: regions.iter().map(|r| r.0.to_string()).collect(),
        load_mw: regions.into_iter().map(|r| r.1).collect(),
        temp_c: temp,
        ..DailyLoad::default()
    }
}

/// Fit on every day before the event.
fn all_history() -> DropConfig {
    DropConfig {
        pre_days: 0,
        ..DropConfig::default()
    }
}

fn event(region: Option<&str>, at: usize) -> Event {
    Event {
        date: day0() + chrono::Days::new(at as u64),
        region: region.map(String::from),
        label: "raid".into(),
    }
}

#[test]
fn injected_drop_with_weather_is_recovered() {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    let temp = temperatures(&mut rng);
    let y = region(&mut rng, &temp, 100.0, -5.0, EVENT, &[]);
    let l = load(vec![("A", y)], temp);
    let rep = analyse(&l, &[event(Some("A"), EVENT)], &[], &all_history()).unwrap();
    let e = &rep.estimates[0];
    assert!(
        (e.change_mw.estimate + 5.0).abs() < 0.8,
        "{:?}",
        e.change_mw
    );
    assert!(e.change_mw.covers(-5.0), "{:?}", e.change_mw);
    assert!(e.significant);
    assert_eq!(e.verdict, Verdict::DropAtEvent);
    assert!((e.change_pct.estimate + 0.05).abs() < 0.012);
    assert!(e.model.heating_base_c.is_some() || e.model.cooling_base_c.is_some());
    let cp = e.changepoint.as_ref().unwrap();
    assert!(cp.agrees && cp.days_from_event.abs() <= 1, "{cp:?}");
    assert!(!e.temperature_extrapolated);
    assert_eq!((e.n_pre, e.n_post), (EVENT, 28));
    assert_eq!(e.daily.len(), EVENT + 28);
    // Normalised pre days average the level before; post days the level after (up to the
    // averaging over temperature models).
    let mean = |p: Period| {
        let v: Vec<f64> = e
            .daily
            .iter()
            .filter(|d| d.period == p)
            .map(|d| d.normalised_mw)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!((mean(Period::Pre) - e.level_before_mw).abs() < 1e-9);
    assert!((mean(Period::Post) - e.level_after_mw).abs() < 0.2);
}

#[test]
fn intervals_cover_the_truth_and_rarely_see_a_drop_that_is_not_there() {
    let (mut covered, mut false_pos, reps) = (0, 0, 200);
    for seed in 0..reps {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(100 + seed);
        let temp = temperatures(&mut rng);
        let with = region(&mut rng, &temp, 80.0, -3.0, EVENT, &[]);
        let without = region(&mut rng, &temp, 80.0, 0.0, EVENT, &[]);
        let l = load(vec![("with", with), ("without", without)], temp);
        let rep = analyse(&l, &[event(None, EVENT)], &[], &all_history()).unwrap();
        covered += usize::from(rep.estimates[0].change_mw.covers(-3.0));
        false_pos += usize::from(rep.estimates[1].significant);
    }
    let coverage = covered as f64 / reps as f64;
    let fpr = false_pos as f64 / reps as f64;
    // Measured: 0.90 and 0.08 (the degree-day terms soak up some of the AR(1) noise, so the
    // 95% intervals are a little narrow; without temperature 0.94).
    assert!(
        coverage >= 0.86,
        "95% intervals covered the truth {coverage:.3} of the time"
    );
    assert!(
        fpr <= 0.12,
        "a drop was reported {fpr:.3} of the time without one"
    );
}

#[test]
fn difference_in_differences_removes_a_shared_shock() {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    let temp = temperatures(&mut rng);
    // A shock both regions share from the event on (an economic slowdown): -4% everywhere.
    let shared: Vec<f64> = (0..N)
        .map(|d| if d >= EVENT + 3 { -0.04 } else { 0.0 })
        .collect();
    let t = region(&mut rng, &temp, 100.0, -6.0, EVENT, &shared);
    let c = region(&mut rng, &temp, 50.0, 0.0, EVENT, &shared);
    let l = load(vec![("T", t), ("C", c)], temp);
    let cfg = DropConfig {
        controls: vec!["C".into()],
        ..all_history()
    };
    let rep = analyse(&l, &[event(None, EVENT)], &[], &cfg).unwrap();
    assert_eq!(rep.estimates.len(), 1, "controls are not treated");
    let e = &rep.estimates[0];
    // The plain estimate mixes the raid (-6%) with the slowdown (-4% x 100 MW).
    assert!(e.change_mw.estimate < -8.0, "{:?}", e.change_mw);
    let did = e.did.as_ref().unwrap();
    assert!(did.change_pct.covers(-0.06), "{:?}", did.change_pct);
    assert!(
        (did.change_mw.estimate + 6.0).abs() < 1.2,
        "{:?}",
        did.change_mw
    );
}

#[test]
fn a_late_event_date_disagrees_with_the_change_point() {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
    let temp = temperatures(&mut rng);
    let y = region(&mut rng, &temp, 100.0, -6.0, EVENT - 12, &[]);
    let l = load(vec![("A", y)], temp);
    let rep = analyse(&l, &[event(Some("A"), EVENT)], &[], &all_history()).unwrap();
    let cp = rep.estimates[0].changepoint.as_ref().unwrap();
    assert!((cp.days_from_event + 12).abs() <= 1 && !cp.agrees, "{cp:?}");
    assert_eq!(rep.estimates[0].verdict, Verdict::ChangeNotAtEvent);
}

#[test]
fn bad_regions_and_short_windows() {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(4);
    let temp = temperatures(&mut rng);
    let y = region(&mut rng, &temp, 100.0, 0.0, EVENT, &[]);
    let l = load(vec![("A", y)], temp);
    let cfg = DropConfig {
        controls: vec!["B".into()],
        ..DropConfig::default()
    };
    let e = analyse(&l, &[event(None, EVENT)], &[], &cfg)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--control") && e.contains("regions are: A"),
        "{e}"
    );
    let e = analyse(&l, &[event(Some("Z"), EVENT)], &[], &DropConfig::default()).unwrap_err();
    assert!(e.to_string().contains("\"Z\""));
    let rep = analyse(&l, &[event(None, 10)], &[], &DropConfig::default()).unwrap();
    assert!(rep.estimates.is_empty() && rep.skipped[0].contains("usable days before"));
}

#[test]
fn a_post_period_hotter_than_any_pre_day_is_flagged() {
    // A heatwave right after the event: every post-event day is warmer than any day before.
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
    let temp: Vec<f64> = (0..N)
        .map(|d| {
            if d < 150 {
                12.0 + (d % 5) as f64
            } else {
                27.0 + (d % 3) as f64
            }
        })
        .collect();
    let y = region(&mut rng, &temp, 100.0, -5.0, 150, &[]);
    let l = load(vec![("A", y)], temp);
    let rep = analyse(&l, &[event(Some("A"), 150)], &[], &DropConfig::default()).unwrap();
    assert!(rep.estimates[0].temperature_extrapolated);
}
