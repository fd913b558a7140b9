//! Unit tests of the feeder balance on small in-memory feeders with known truth.

use rand::{Rng, SeedableRng};

use super::*;
use crate::ingest::MeterInfo;

const DAYS: usize = 12;
const SPD: usize = 48;

fn grid() -> TimeGrid {
    TimeGrid {
        start: 1_709_251_200, // 2024-03-01T00:00Z
        interval_secs: 1800,
        n_slots: DAYS * SPD,
    }
}

/// A household-like load (kW) with a daily rhythm and noise.
fn household(rng: &mut impl Rng, s: usize) -> f64 {
    let h = (s % SPD) as f64 / 2.0;
    let evening = if (17.0..22.0).contains(&h) { 1.2 } else { 0.0 };
    let morning = if (7.0..9.0).contains(&h) { 0.6 } else { 0.0 };
    (0.3 + evening + morning) * (1.0 + rng.gen_range(-0.2..0.2))
}

struct Region {
    /// True consumption per meter and slot (kW).
    true_kw: Vec<Vec<f64>>,
    /// Unmetered load on the feeder (kW).
    hidden_kw: Vec<f64>,
}

fn region(n_meters: usize, seed: u64) -> Region {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let n = grid().n_slots;
    let true_kw = (0..n_meters)
        .map(|_| (0..n).map(|s| household(&mut rng, s)).collect())
        .collect();
    Region {
        true_kw,
        hidden_kw: vec![0.0; n],
    }
}

/// Meters' matrix (kWh, with `missing` applied), the metadata and the feeder matrix with losses.
fn build(
    r: &Region,
    loss: &LossModel,
    missing: impl Fn(usize, usize) -> bool,
) -> (LoadMatrix, MeterTable, LoadMatrix) {
    let delivered: Vec<f64> = (0..grid().n_slots)
        .map(|s| r.true_kw.iter().map(|row| row[s]).sum::<f64>() + r.hidden_kw[s])
        .collect();
    let mean = delivered.iter().sum::<f64>() / delivered.len() as f64;
    build_with(r, &|p| loss.losses_kw(p, mean), missing)
}

/// [`build`] with losses (kW) of the delivered kW given by `losses`.
fn build_with(
    r: &Region,
    losses: &dyn Fn(f64) -> f64,
    missing: impl Fn(usize, usize) -> bool,
) -> (LoadMatrix, MeterTable, LoadMatrix) {
    let g = grid();
    let h = g.interval_hours();
    let ids: Vec<Box<str>> = (0..r.true_kw.len())
        .map(|i| format!("M{i:03}").into())
        .collect();
    let mut values = Vec::new();
    for (i, row) in r.true_kw.iter().enumerate() {
        values.extend(row.iter().enumerate().map(|(s, kw)| {
            if missing(i, s) {
                f32::NAN
            } else {
                (kw * h) as f32
            }
        }));
    }
    let delivered: Vec<f64> = (0..g.n_slots)
        .map(|s| r.true_kw.iter().map(|row| row[s]).sum::<f64>() + r.hidden_kw[s])
        .collect();
    let input: Vec<f32> = delivered
        .iter()
        .map(|&p| ((p + losses(p)) * h) as f32)
        .collect();
    let meters = MeterTable::from_rows(
        ids.iter()
            .map(|id| MeterInfo {
                meter_id: id.to_string(),
                feeder_id: Some("F1".into()),
                ..MeterInfo::default()
            })
            .collect(),
    );
    let m = LoadMatrix::from_parts(g, ids, values, vec![]).unwrap();
    let f = LoadMatrix::from_parts(g, vec!["F1".into()], input, vec![]).unwrap();
    (m, meters, f)
}

fn cfg() -> BalanceConfig {
    BalanceConfig::default()
}

#[test]
fn loss_model_inverts_the_forward_model() {
    let loss = LossModel::new(0.03, 0.01, 0.4).unwrap();
    let p: Vec<f64> = (0..200)
        .map(|s| 40.0 + 25.0 * ((s as f64) / 10.0).sin())
        .collect();
    let mean = p.iter().sum::<f64>() / p.len() as f64;
    let input: Vec<f64> = p.iter().map(|&x| x + loss.losses_kw(x, mean)).collect();
    let back = loss.delivered_kw(&input);
    for (a, b) in p.iter().zip(&back) {
        assert!((a - b).abs() < 1e-9, "{a} {b}");
    }
    assert!(LossModel::new(0.5, 0.0, 0.0).is_err());
    assert!(LossModel::new(0.03, f64::NAN, 0.0).is_err());
    assert!(LossModel::new(0.03, 0.0, -1.0).is_err());
}

#[test]
fn bypassed_rig_is_found_dated_and_sized() {
    let mut r = region(40, 1);
    let onset = 6 * SPD + 29; // 2024-03-07 14:30
    for s in onset..grid().n_slots {
        r.hidden_kw[s] = 6.5 * (1.0 + 0.02 * ((s * 7919) % 11) as f64 / 11.0);
    }
    let loss = LossModel::default();
    let (m, meters, f) = build(&r, &loss, |_, _| false);
    let rep = balance_parts(&m, &meters, &f, &cfg()).unwrap();
    let fb = &rep.feeders[0];
    assert_eq!(fb.steps.len(), 1, "{:?}", fb.finding.reasons);
    let st = &fb.steps[0];
    assert_eq!(st.slot, onset);
    assert_eq!(st.date, "2024-03-07");
    assert!((st.size_kw() - 6.565).abs() < 0.1, "{}", st.size_kw());
    assert!(fb.finding.flagged && fb.finding.rig_likeness > 0.9);
    assert_eq!(fb.finding.devices, Some(2));
    assert!(fb.finding.reasons[0].contains("residual rose 6.6 kW on 2024-03-07 14:30"));
}

#[test]
fn missing_readings_are_not_losses() {
    let r = region(40, 2);
    let loss = LossModel::default();
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
    let random: Vec<bool> = (0..40 * grid().n_slots)
        .map(|_| rng.gen_bool(0.05))
        .collect();
    // 5% of readings missing at random, meter 3 silent from day 5 on, meter 7 missing day 2.
    let missing = |i: usize, s: usize| {
        random[i * grid().n_slots + s] || (i == 3 && s >= 5 * SPD) || (i == 7 && s / SPD == 2)
    };
    let (m, meters, f) = build(&r, &loss, missing);
    let rep = balance_parts(&m, &meters, &f, &cfg()).unwrap();
    let fb = &rep.feeders[0];
    assert!(!fb.finding.flagged, "{:?}", fb.finding.reasons);
    assert!(fb.steps.is_empty(), "{:?}", fb.steps);
    let share = fb.finding.residual_share.abs();
    assert!(share < 0.01, "residual share {share}");
    assert!(fb.finding.estimated_share > 0.04);
    // Taking missing readings as zero would have shown a loss of about 5-10%.
    let input: f64 = fb.days.iter().map(|d| d.input_kwh).sum();
    let est: f64 = fb.days.iter().map(|d| d.estimated_kwh).sum();
    assert!(est / input > 0.05);
}

#[test]
fn partial_bypass_names_the_meter_and_shaped_steps_are_not_rigs() {
    let mut r = region(30, 3);
    // M004's rig (3.4 kW, metered until day 6) is rewired around its meter on day 6.
    let n = grid().n_slots;
    for s in 0..n {
        if s < 6 * SPD {
            r.true_kw[4][s] += 3.4;
        } else {
            r.hidden_kw[s] += 3.4;
        }
    }
    // From day 8 an unmetered household-shaped load (a shop wired in without a meter).
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(4);
    for s in 8 * SPD..n {
        r.hidden_kw[s] += 4.0 * household(&mut rng, s);
    }
    let (m, meters, f) = build(&r, &LossModel::default(), |_, _| false);
    let rep = balance_parts(&m, &meters, &f, &cfg()).unwrap();
    let fb = &rep.feeders[0];
    assert_eq!(fb.steps.len(), 2, "{:?}", fb.finding.reasons);
    let (rig, shop) = (&fb.steps[0], &fb.steps[1]);
    assert_eq!(rig.day, 6);
    assert!(rig.shape.unwrap().rig_likeness > 0.9);
    assert!(shop.shape.unwrap().rig_likeness < 0.2, "{:?}", shop.shape);
    assert!((fb.finding.hidden_kw - 3.4).abs() < 0.1);
    assert_eq!(fb.finding.candidates[0].meter_id, "M004");
}

#[test]
fn outages_and_a_rig_from_the_start() {
    let mut r = region(30, 5);
    let n = grid().n_slots;
    for s in 0..n {
        r.hidden_kw[s] = 9.75; // 3 x S19 all window
    }
    // A two-hour feeder outage on day 4: everything reads zero.
    for s in 4 * SPD + 20..4 * SPD + 24 {
        for row in &mut r.true_kw {
            row[s] = 0.0;
        }
        r.hidden_kw[s] = 0.0;
    }
    let (m, meters, f) = build(&r, &LossModel::default(), |_, _| false);
    let rep = balance_parts(&m, &meters, &f, &cfg()).unwrap();
    let fb = &rep.feeders[0];
    assert!(fb.steps.is_empty());
    assert_eq!(
        fb.slots
            .status
            .iter()
            .filter(|s| **s == SlotStatus::Outage)
            .count(),
        4
    );
    assert!(fb.finding.flagged);
    assert!((fb.finding.hidden_kw - 9.75).abs() < 0.1);
    assert_eq!(fb.finding.devices, Some(3));
}

#[test]
fn needs_feeders_and_feeder_ids() {
    let r = region(3, 6);
    let (m, _, f) = build(&r, &LossModel::default(), |_, _| false);
    let no_ids = MeterTable::from_rows(vec![]);
    let rep = balance_parts(&m, &no_ids, &f, &cfg()).unwrap();
    assert!(rep.feeders.is_empty());
    assert!(rep.notes.iter().any(|n| n.contains("no feeder_id")));
}

#[test]
fn a_new_connection_is_not_a_hidden_load() {
    let mut r = region(30, 7);
    // M005 is connected on day 6: a flat 3 kW load (a server room), metered from its first day.
    let n = grid().n_slots;
    for s in 0..n {
        r.true_kw[5][s] = if s < 6 * SPD { 0.0 } else { 3.0 };
    }
    let (m, meters, f) = build(&r, &LossModel::default(), |i, s| i == 5 && s < 6 * SPD);
    let rep = balance_parts(&m, &meters, &f, &cfg()).unwrap();
    let fb = &rep.feeders[0];
    assert_eq!(fb.late_meters, vec!["M005".to_string()]);
    assert!(
        fb.steps.is_empty() && !fb.finding.flagged,
        "{:?}",
        fb.finding.reasons
    );
    assert!(fb
        .finding
        .reasons
        .iter()
        .any(|r| r.contains("taken as connected then")));
}

/// Household heating of a cold spell on days `from..to`: +0.8 kW per home, +1.6 kW in the
/// evening (a metered load change, not a hidden load).
fn cold_spell(r: &mut Region, from: usize, to: usize) {
    for row in &mut r.true_kw {
        for (s, v) in row.iter_mut().enumerate() {
            if (from * SPD..to * SPD).contains(&s) {
                let h = (s % SPD) / 2;
                *v += if (16..23).contains(&h) { 1.6 } else { 0.8 };
            }
        }
    }
}

/// The loss shapes of the tests: linear only, quadratic only, both, and a heavier feeder.
fn shapes() -> [LossCurve; 4] {
    let c = |linear, quadratic_per_kw| LossCurve {
        fixed_kw: 0.0,
        linear,
        quadratic_per_kw,
    };
    [c(0.05, 0.0), c(0.0, 0.002), c(0.03, 0.001), c(0.04, 0.0015)]
}

#[test]
fn fitted_losses_of_any_shape_leave_no_false_step_in_a_cold_spell() {
    for (k, curve) in shapes().iter().enumerate() {
        let mut r = region(40, 20 + k as u64);
        cold_spell(&mut r, 7, 10);
        let (m, meters, f) = build_with(&r, &|p| curve.losses_kw(p), |_, _| false);
        let rep = balance_parts(&m, &meters, &f, &cfg()).unwrap();
        let fb = &rep.feeders[0];
        assert!(
            !fb.finding.flagged && fb.steps.is_empty(),
            "{curve:?}: {:?}",
            fb.finding.reasons
        );
        assert_eq!(fb.losses.source, LossSource::Fitted);
        assert!(
            (fb.losses.curve.linear - curve.linear).abs() < 0.002,
            "{:?}",
            fb.losses
        );
        let q = (fb.losses.curve.quadratic_per_kw - curve.quadratic_per_kw).abs();
        assert!(q < 5e-5, "{:?}", fb.losses);
    }
}

#[test]
fn the_fixed_model_leaves_a_false_step_the_fit_does_not() {
    // Quadratic-heavy losses and a cold spell: the fixed 3% + 1%-at-mean model sees a residual
    // rise with the load. It is flagged neither way: the rise moves with the metered load.
    let curve = shapes()[3];
    let mut r = region(40, 30);
    cold_spell(&mut r, 6, 12);
    let (m, meters, f) = build_with(&r, &|p| curve.losses_kw(p), |_, _| false);
    let mut fixed = cfg();
    fixed.loss_fit.fit = false;
    let rep = balance_parts(&m, &meters, &f, &fixed).unwrap();
    let fb = &rep.feeders[0];
    assert_eq!(fb.losses.source, LossSource::Fixed);
    let rise = fb
        .steps
        .iter()
        .find(|s| s.size_kw() > 0.0)
        .expect("a residual rise");
    assert!(rise.moves_with_load(fixed.min_step_kw), "{rise:?}");
    assert!(rise.metered_change_kw > 20.0 && rise.load_kw > 0.5 * rise.size_kw());
    assert!(!fb.finding.flagged, "{:?}", fb.finding.reasons);
    assert!(
        fb.finding
            .reasons
            .iter()
            .any(|t| t.contains("moved with the metered load")),
        "{:?}",
        fb.finding.reasons
    );
    let rep = balance_parts(&m, &meters, &f, &cfg()).unwrap();
    assert!(
        rep.feeders[0].steps.is_empty(),
        "{:?}",
        rep.feeders[0].steps
    );
}

#[test]
fn a_rig_is_found_within_10_percent_and_an_hour_under_fitted_losses() {
    for (k, curve) in shapes().iter().enumerate() {
        for kw in [1.4, 6.6] {
            let mut r = region(40, 40 + k as u64);
            // A cold spell that starts the same day as the rig, an hour later.
            cold_spell(&mut r, 5, 9);
            let onset = 5 * SPD + 20; // 10:00 on day 5
            for s in onset..grid().n_slots {
                r.hidden_kw[s] = kw * (1.0 + 0.02 * (((s * 7919) % 11) as f64 / 5.5 - 1.0));
            }
            let (m, meters, f) = build_with(&r, &|p| curve.losses_kw(p), |_, _| false);
            let rep = balance_parts(&m, &meters, &f, &cfg()).unwrap();
            let fb = &rep.feeders[0];
            assert!(
                fb.finding.flagged,
                "{curve:?} {kw}: {:?}",
                fb.finding.reasons
            );
            let st = &fb.steps[fb.finding.main_step.unwrap()];
            assert!(st.slot.abs_diff(onset) <= 2, "{curve:?} {kw}: {st:?}");
            assert!(
                (st.size_kw() - kw).abs() < 0.1 * kw,
                "{curve:?} {kw}: {st:?}"
            );
            assert!((fb.finding.hidden_kw - kw).abs() < 0.1 * kw);
        }
    }
}

#[test]
fn each_feeder_gets_its_own_curve_and_short_windows_the_fixed_one() {
    // Two feeders with different curves in one balance.
    let curves = [shapes()[0], shapes()[1]];
    let mut parts = Vec::new();
    for (k, c) in curves.iter().enumerate() {
        let r = region(30, 50 + k as u64);
        parts.push(build_with(&r, &|p| c.losses_kw(p), |_, _| false));
    }
    let g = grid();
    let mut values = Vec::new();
    let mut ids: Vec<Box<str>> = Vec::new();
    let mut rows = Vec::new();
    for (k, (m, _, _)) in parts.iter().enumerate() {
        for i in 0..m.n_meters() {
            let id = format!("F{k}M{i:03}");
            rows.push(MeterInfo {
                meter_id: id.clone(),
                feeder_id: Some(format!("F{k}")),
                ..MeterInfo::default()
            });
            ids.push(id.into());
            values.extend_from_slice(m.row(i));
        }
    }
    let m = LoadMatrix::from_parts(g, ids, values, vec![]).unwrap();
    let mut fv = Vec::new();
    fv.extend_from_slice(parts[0].2.row(0));
    fv.extend_from_slice(parts[1].2.row(0));
    let f = LoadMatrix::from_parts(g, vec!["F0".into(), "F1".into()], fv, vec![]).unwrap();
    let meters = MeterTable::from_rows(rows);
    let rep = balance_parts(&m, &meters, &f, &cfg()).unwrap();
    for (fb, c) in rep.feeders.iter().zip(&curves) {
        assert_eq!(fb.losses.source, LossSource::Fitted);
        assert!(
            (fb.losses.curve.linear - c.linear).abs() < 0.002,
            "{:?}",
            fb.losses
        );
        assert!(!fb.finding.flagged);
    }
    // With fewer used days than loss_fit_min_days: the fixed model, and why.
    let mut short = cfg();
    short.loss_fit.min_days = DAYS + 1;
    let rep = balance_parts(&m, &meters, &f, &short).unwrap();
    let l = &rep.feeders[0].losses;
    assert_eq!(l.source, LossSource::FixedFallback);
    assert_eq!(l.curve.linear, DEFAULT_LOSS_SHARE);
    assert!(l.text().contains("the fit needs 13"), "{}", l.text());
}
