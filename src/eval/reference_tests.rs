//! [`evaluate`] against numbers computed once by the peers' `metrics.py` (scikit-learn's
//! `roc_auc_score` and `average_precision_score`, its `threshold_at_fpr`) on a seeded random
//! region of 3000 meters with many tied scores and 2% unscored meters.
//!
//! How the numbers were made (2026-11, numpy/pandas/scikit-learn of `.venv-peers`): a Python
//! port of [`region`] below (same splitmix64 stream, same f64 arithmetic, so the same labels and
//! scores bit for bit; `score_sum` and the class counts check that) wrote `labels.csv` and
//! `scores.csv` (only the scored meters, empty `onset`), then
//!
//! ```python
//! import metrics                       # ../shared/peers/metrics.py
//! df, missing = metrics.load("labels.csv", "scores.csv")
//! m = metrics.evaluate(df)             # AUC, AP, precision@k, recall@FPR, bins, kinds, top-k
//! ev = df[~df.registered]; y, s = ev.positive.to_numpy(), ev.score.to_numpy()
//! thr = metrics.threshold_at_fpr(s[~y], 0.01); fl = s > thr    # the 1 % breakdowns
//! nd = ev.n_devices.to_numpy()         # per DEVICE_BINS: fl[y & (lo <= nd <= hi)].sum(), ...
//! small = y & (nd * ev.device_kw.to_numpy() < 1.5)
//! ev.loc[fl & ~y, "kind"].value_counts()
//! ```
//!
//! and the printed values were pasted here. The test itself runs no Python.

use super::*;

/// splitmix64 (Steele, Lea & Flood 2014): a tiny seeded generator that is easy to port exactly.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * f64::powi(2.0, -53)
    }
}

/// The seeded region: 2% registered miners, 6% rigs of four kinds with 1-8 devices of 1.2-3.25
/// kW, hard negatives (24/7 commercial, storage heating), households. Scores: the sum of two
/// uniforms plus a class bonus, floored to 1/64 (so ties are common); 1 in 50 meters unscored.
fn region(n: usize) -> (Vec<Label>, Vec<Scored>) {
    const RIGS: [&str; 4] = [
        "mining_pure",
        "mining_mixed",
        "mining_night",
        "mining_small",
    ];
    const KW: [f64; 4] = [1.2, 1.4, 2.0, 3.25];
    let mut rng = SplitMix(20_240_301);
    let (mut labels, mut scores) = (Vec::new(), Vec::new());
    for i in 0..n {
        let meter_id = format!("M{i:05}");
        let r = rng.next() % 1000;
        let kind = match r {
            0..=19 => "registered_miner",
            20..=79 => RIGS[(rng.next() % 4) as usize],
            80..=99 => "commercial_24x7",
            100..=129 => "household_storage_heating",
            _ => "household",
        };
        let is_mining = kind.starts_with("mining") || kind == "registered_miner";
        let (mut devices, mut kw) = (0u32, 0.0);
        if is_mining {
            devices = 1 + (rng.next() % 8) as u32;
            kw = KW[(rng.next() % 4) as usize];
        }
        let mut x = rng.unit() + rng.unit();
        if kind == "registered_miner" {
            x += 1.0;
        } else if is_mining {
            x += if devices >= 2 { 0.8 } else { 0.4 };
        } else if kind == "commercial_24x7" {
            x += 0.5;
        }
        let score = (x * 64.0).floor() / 64.0;
        labels.push(Label {
            meter_id: meter_id.clone(),
            kind: kind.to_string(),
            is_mining,
            n_devices: Some(devices),
            device_kw: Some(kw),
            onset: None,
            onset_mid: None,
        });
        if !rng.next().is_multiple_of(50) {
            scores.push(Scored {
                meter_id,
                score: Some(score),
                ..Scored::default()
            });
        }
    }
    (labels, scores)
}

fn close(got: Option<f64>, want: f64) {
    let got = got.unwrap_or(f64::NAN);
    assert!((got - want).abs() < 1e-12, "got {got}, want {want}");
}

#[test]
fn seeded_region_matches_metrics_py() {
    let (labels, scores) = region(3000);
    // The data is the Python port's, bit for bit.
    let score_sum: f64 = scores.iter().filter_map(|s| s.score).sum();
    assert_eq!(score_sum, 3102.59375);
    let r = evaluate(&labels, &scores);
    assert_eq!(
        (
            r.meters,
            r.positives,
            r.negatives,
            r.registered_miners,
            r.unscored_meters
        ),
        (3000, 169, 2776, 55, 66)
    );

    close(r.roc_auc, 0.8603424534897601);
    close(r.average_precision, 0.4548168201343883);
    let p: Vec<Option<f64>> = r.precision_at_k.iter().map(|p| p.precision).collect();
    close(p[0], 0.8);
    close(p[1], 0.62);
    close(p[2], 0.39);
    close(p[3], 0.42011834319526625);
    assert_eq!(r.precision_at_k[3].k, 169);

    let thresholds: Vec<Option<f64>> = r.at_fpr.iter().map(|op| op.threshold).collect();
    assert_eq!(thresholds, vec![Some(2.15625), Some(1.921875), Some(1.875)]);
    let want = [
        // (recall, flagged_at_fpr, registered_above_fpr)
        (0.13609467455621302, 25, 17),
        (0.24260355029585798, 54, 29),
        (0.30177514792899407, 71, 32),
    ];
    for (op, (recall, flagged, registered)) in r.at_fpr.iter().zip(want) {
        close(op.recall.rate, recall);
        assert_eq!((op.flagged, op.registered_flagged), (flagged, registered));
    }

    // At 0.5 %: metrics.py's device bins, kinds of the false positives, recall by kind.
    let half = &r.at_fpr[1];
    let bins: Vec<(usize, Option<f64>)> = half
        .recall_by_devices
        .values()
        .map(|b| (b.of, b.rate))
        .collect();
    assert_eq!(bins.len(), 3);
    for ((of, rate), (want_of, want_rate)) in bins.into_iter().zip([
        (19, 0.10526315789473684),
        (45, 0.3111111111111111),
        (105, 0.23809523809523808),
    ]) {
        assert_eq!(of, want_of);
        close(rate, want_rate);
    }
    let fp: Vec<(&str, usize)> = half
        .false_positives_by_kind
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, &n)| (k.as_str(), n))
        .collect();
    assert_eq!(fp, vec![("commercial_24x7", 8), ("household", 5)]);
    for (kind, want) in [
        ("mining_mixed", 0.358974358974359),
        ("mining_night", 0.21428571428571427),
        ("mining_pure", 0.2),
        ("mining_small", 0.20930232558139536),
    ] {
        close(half.recall_by_kind[kind].rate, want);
    }

    // At 1 %: the breakdowns metrics.py computes only at 0.5 %, with its threshold function.
    let one = &r.at_fpr[2];
    let bins: Vec<(usize, usize)> = one
        .recall_by_devices
        .values()
        .map(|b| (b.hits, b.of))
        .collect();
    assert_eq!(bins, vec![(2, 19), (16, 45), (33, 105)]);
    assert_eq!(one.recall_small_rigs, Rate::new(0, 6));
    assert_eq!(one.false_positives_by_kind["household"], 11);
    assert_eq!(one.false_positives_by_kind["commercial_24x7"], 9);
    assert_eq!(one.false_positives_by_kind["household_storage_heating"], 0);

    let npos = r.registered.in_top_k.iter().find(|t| t.name == "npos");
    assert_eq!(npos.map(|t| t.registered), Some(36));
}
