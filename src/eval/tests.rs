//! Hand-computable examples of every metric of [`evaluate`], including ties and the degenerate
//! cases (no positives, all positives, all scores equal, unscored meters), and the text report.

use chrono::{DateTime, NaiveDate, Utc};

use super::table::parse_instant;
use super::*;

fn t(s: &str) -> DateTime<Utc> {
    parse_instant(s).unwrap()
}

fn label(id: &str, kind: &str, mining: bool, devices: u32, kw: f64, onset: Option<&str>) -> Label {
    Label {
        meter_id: id.into(),
        kind: kind.into(),
        is_mining: mining,
        n_devices: Some(devices),
        device_kw: Some(kw),
        onset: onset.map(t),
        onset_mid: None,
    }
}

fn neg(id: &str, kind: &str) -> Label {
    label(id, kind, false, 0, 0.0, None)
}

fn rig(id: &str, kind: &str, devices: u32, kw: f64, onset: &str) -> Label {
    label(id, kind, true, devices, kw, Some(onset))
}

fn sc(id: &str, score: f64) -> Scored {
    Scored {
        meter_id: id.into(),
        score: Some(score),
        ..Scored::default()
    }
}

fn flag(id: &str, score: f64, flagged: bool, devices: Option<u32>, onset: Option<&str>) -> Scored {
    Scored {
        meter_id: id.into(),
        score: Some(score),
        flagged: Some(flagged),
        est_devices: devices,
        onset: onset.map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()),
    }
}

const START: &str = "2024-03-01T00:00:00Z";

/// 4 positives, 5 negatives, 1 registered miner; scores with one tie across the classes.
///
/// Ranked (registered excluded): p1 9, n1 8, p2 7, n2 7 (tie), p3 5, n3 4, n4 3, n5 2, p4 1.
fn small_region() -> (Vec<Label>, Vec<Scored>) {
    let labels = vec![
        rig("p1", "mining_pure", 4, 3.0, START),
        neg("n1", "commercial_24x7"),
        rig("p2", "mining_mixed", 2, 3.2, "2024-03-05T12:00:00Z"),
        neg("n2", "household"),
        rig("p3", "mining_mixed", 1, 1.3, START),
        neg("n3", "household"),
        neg("n4", "household_storage_heating"),
        neg("n5", "household"),
        rig("p4", "mining_night", 1, 3.0, "2024-03-09T06:00:00Z"),
        rig("r1", "registered_miner", 12, 3.2, START),
    ];
    let scores = vec![
        flag("p1", 9.0, true, Some(4), Some("2024-03-01")),
        flag("n1", 8.0, true, None, None),
        flag("p2", 7.0, true, Some(3), Some("2024-03-08")),
        flag("n2", 7.0, false, None, None),
        flag("p3", 5.0, false, None, None),
        flag("n3", 4.0, false, None, None),
        flag("n4", 3.0, false, None, None),
        flag("n5", 2.0, false, None, None),
        flag("p4", 1.0, false, None, None),
        flag("r1", 7.5, false, None, None),
    ];
    (labels, scores)
}

#[test]
fn counts_auc_ap_and_precision_at_k_by_hand() {
    let (labels, scores) = small_region();
    let r = evaluate(&labels, &scores);
    assert_eq!(
        (r.meters, r.positives, r.negatives, r.registered_miners),
        (10, 4, 5, 1)
    );
    assert_eq!((r.unscored_meters, r.scores_not_in_labels), (0, 0));
    // Pairs won: p1 5, p2 3 + 1/2 (tie with n2), p3 3, p4 0 -> 11.5 / 20.
    assert_eq!(r.roc_auc, Some(0.575));
    // Thresholds 9 (1/1), 8 (1/2), 7 (2/4), 5 (3/5), 4, 3, 2, 1 (4/9): recall steps of 1/4 at
    // 9, 7, 5 and 1: AP = (1 + 2/4 + 3/5 + 4/9) / 4.
    let ap = (1.0 + 0.5 + 0.6 + 4.0 / 9.0) / 4.0;
    assert!((r.average_precision.unwrap() - ap).abs() < 1e-15);
    let p: Vec<_> = r
        .precision_at_k
        .iter()
        .map(|p| (p.name.as_str(), p.k, p.k_effective, p.hits))
        .collect();
    // k = #positives = 4: p1, n1, p2, n2 (the tie keeps label order) -> 2 of 4.
    assert_eq!(
        p,
        vec![
            ("50", 50, 9, 4),
            ("100", 100, 9, 4),
            ("200", 200, 9, 4),
            ("npos", 4, 4, 2)
        ]
    );
    assert_eq!(r.precision_at_k[3].precision, Some(0.5));
    assert_eq!(r.positives_by_kind["mining_mixed"], 2);
    assert_eq!(r.negatives_by_kind["household"], 3);
}

#[test]
fn tie_order_follows_label_order() {
    // p1 2, then n1 and p2 tied at 1, n2 0; k = #positives = 2. The stable sort keeps label
    // order inside the tie (as metrics.py's `np.argsort(-s, kind="stable")`), so the second
    // place goes to whichever of n1 / p2 is listed first.
    let scores = vec![sc("p1", 2.0), sc("n1", 1.0), sc("p2", 1.0), sc("n2", 0.0)];
    let a = vec![
        rig("p1", "mining_pure", 2, 3.0, START),
        neg("n1", "household"),
        rig("p2", "mining_pure", 2, 3.0, START),
        neg("n2", "household"),
    ];
    let r = evaluate(&a, &scores);
    assert_eq!(r.precision_at_k[3].precision, Some(0.5));
    let b = vec![a[0].clone(), a[2].clone(), a[1].clone(), a[3].clone()];
    let r = evaluate(&b, &scores);
    assert_eq!(r.precision_at_k[3].precision, Some(1.0));
    // The ranking metrics do not depend on the order: AUC = (2 + 1.5) / 4 both times.
    assert_eq!(r.roc_auc, Some(0.875));
    assert_eq!(evaluate(&a, &scores).roc_auc, Some(0.875));
}

#[test]
fn fpr_operating_points_are_strict() {
    let (labels, scores) = small_region();
    let r = evaluate(&labels, &scores);
    // 5 negatives: floor(0.001 * 5) = floor(0.005 * 5) = floor(0.01 * 5) = 0 allowed, so the
    // threshold is the top negative (8) and only p1 (9) is above it.
    assert_eq!(r.at_fpr.len(), 3);
    for (op, name) in r.at_fpr.iter().zip(["FPR 0.1%", "FPR 0.5%", "FPR 1%"]) {
        assert_eq!(op.name, name);
        assert_eq!(op.threshold, Some(8.0));
        assert_eq!(
            (op.flagged, op.true_positives, op.false_positives),
            (1, 1, 0)
        );
        assert_eq!(op.recall, Rate::new(1, 4));
        assert_eq!(op.fpr, Some(0.0));
        assert_eq!(op.precision, 1.0);
        assert_eq!(op.registered_flagged, 0);
        assert_eq!(op.recall_by_devices["4+"], Rate::new(1, 1));
        assert_eq!(op.recall_by_devices["1"], Rate::new(0, 2));
        assert_eq!(op.recall_by_devices["2-3"], Rate::new(0, 1));
        // Small rigs: only p3 (1 x 1.3 kW).
        assert_eq!(op.recall_small_rigs, Rate::new(0, 1));
        assert_eq!(op.recall_by_kind["mining_pure"], Rate::new(1, 1));
        assert_eq!(op.recall_by_kind["mining_night"], Rate::new(0, 1));
        assert_eq!(op.false_positives_by_kind.values().sum::<usize>(), 0);
        assert_eq!(op.false_positives_by_kind.len(), 3);
    }
}

#[test]
fn fpr_budget_with_many_negatives_and_registered_above() {
    // 200 negatives scored 0..199, positives at 198.5, 150 and 250; a registered miner at 199.5.
    // 0.5% of 200 = 1 negative allowed -> threshold 198 (the 2nd highest negative): flagged are
    // the negative 199, the positives 198.5 and 250, and the registered miner (counted apart).
    let mut labels: Vec<Label> = (0..200)
        .map(|i| neg(&format!("n{i}"), "household"))
        .collect();
    let mut scores: Vec<Scored> = (0..200)
        .map(|i| sc(&format!("n{i}"), f64::from(i)))
        .collect();
    for (id, s) in [("a", 198.5), ("b", 150.0), ("c", 250.0)] {
        labels.push(rig(id, "mining_pure", 2, 3.0, START));
        scores.push(sc(id, s));
    }
    labels.push(rig("r", "registered_miner", 9, 3.0, START));
    scores.push(sc("r", 199.5));
    let r = evaluate(&labels, &scores);
    let op = &r.at_fpr[1];
    assert_eq!(op.threshold, Some(198.0));
    assert_eq!(
        (op.flagged, op.true_positives, op.false_positives),
        (3, 2, 1)
    );
    assert_eq!(op.fpr, Some(0.005));
    assert_eq!(op.registered_flagged, 1);
    // Precision counts the registered miner on the list against it: 2 / (3 + 1).
    assert_eq!(op.precision, 0.5);
    // 0.1%: floor(0.2) = 0 allowed -> threshold 199: only c (250) is above (a, 198.5, is not).
    assert_eq!(r.at_fpr[0].threshold, Some(199.0));
    assert_eq!(r.at_fpr[0].true_positives, 1);
    // 1%: 2 allowed -> threshold 197.
    assert_eq!(r.at_fpr[2].threshold, Some(197.0));
    assert_eq!(r.at_fpr[2].false_positives, 2);
    // Registered in the full ranking: c 250, n199, r 199.5 -> r is 2nd, inside top npos = 3.
    let top: Vec<_> = r
        .registered
        .in_top_k
        .iter()
        .map(|t| (t.name.as_str(), t.registered))
        .collect();
    assert_eq!(top, vec![("50", 1), ("100", 1), ("200", 1), ("npos", 1)]);
    assert_eq!(r.registered.flagged, None);
    assert!(r.flagged.is_none() && r.onset.is_none() && r.devices.is_none());
}

#[test]
fn flagged_column_precision_recall_onset_and_devices() {
    let (labels, scores) = small_region();
    let r = evaluate(&labels, &scores);
    let f = r.flagged.as_ref().unwrap();
    assert_eq!(f.name, "flagged");
    assert_eq!((f.target_fpr, f.threshold), (None, None));
    assert_eq!((f.flagged, f.true_positives, f.false_positives), (3, 2, 1));
    assert!((f.precision - 2.0 / 3.0).abs() < 1e-15);
    assert_eq!(f.recall, Rate::new(2, 4));
    assert_eq!(f.fpr, Some(0.2));
    assert_eq!(f.false_positives_by_kind["commercial_24x7"], 1);
    assert_eq!(f.false_positives_by_kind["household"], 0);
    assert_eq!(f.recall_by_kind["mining_mixed"], Rate::new(1, 2));
    assert_eq!(r.registered.flagged, Some(0));

    // p1 starts at the window start (error 0); p2 mid-window, 2024-03-05 vs 03-08: 3 days.
    let on = r.onset.as_ref().unwrap();
    assert_eq!(on.window_start_source, "earliest onset in labels");
    assert_eq!(on.window_start.as_deref(), Some(START));
    assert_eq!(
        on.at_window_start,
        OnsetErrors {
            n: 1,
            median_abs_error_days: Some(0.0),
            within_1_day: Some(1.0)
        }
    );
    assert_eq!(on.mid_window.median_abs_error_days, Some(3.0));
    assert_eq!(on.mid_window.within_1_day, Some(0.0));
    assert_eq!(on.all.n, 2);
    assert_eq!(on.all.median_abs_error_days, Some(1.5));
    assert_eq!(on.all.within_1_day, Some(0.5));
    assert_eq!(on.without_onset, 0);

    // Devices: p1 4 vs 4 (exact), p2 3 vs 2 (within 1).
    let d = r.devices.as_ref().unwrap();
    assert_eq!(
        (d.n, d.exact, d.within_1, d.without_estimate),
        (2, Some(0.5), Some(1.0), 0)
    );
}

#[test]
fn window_start_from_the_run_overrides_the_earliest_onset() {
    let (labels, scores) = small_region();
    // A run starting a day earlier: no onset sits at its start, both are mid-window.
    let r = evaluate_with_window(&labels, &scores, Some(t("2024-02-29T00:00:00Z")));
    let on = r.onset.unwrap();
    assert_eq!(on.window_start_source, "run.json grid.start");
    assert_eq!((on.at_window_start.n, on.mid_window.n), (0, 2));
    assert_eq!(on.at_window_start.median_abs_error_days, None);
}

#[test]
fn registered_miner_flagged_is_counted() {
    let (labels, mut scores) = small_region();
    scores[9].flagged = Some(true);
    let r = evaluate(&labels, &scores);
    assert_eq!(r.registered.flagged, Some(1));
    let f = r.flagged.unwrap();
    assert_eq!(f.registered_flagged, 1);
    // Still 3 flagged among the ranked meters, but precision is over 4 listed: 2 / 4.
    assert_eq!((f.flagged, f.precision), (3, 0.5));
    assert!(r.registered.in_top_k[3].registered == 1); // r1 (7.5) is 3rd of all meters
}

#[test]
fn missing_meters_rank_last_and_are_counted() {
    let labels = vec![
        rig("p1", "mining_pure", 2, 3.0, START),
        rig("p2", "mining_pure", 2, 3.0, START),
        neg("n1", "household"),
        neg("n2", "household"),
        rig("r", "registered_miner", 5, 3.0, START),
    ];
    // p2 and n2 and r have no score; "zz" is not in the labels.
    let scores = vec![sc("p1", 0.2), sc("n1", 0.5), sc("zz", 9.0)];
    let r = evaluate(&labels, &scores);
    assert_eq!((r.unscored_meters, r.scores_not_in_labels), (3, 1));
    // Pairs: (p1, n1) 0, (p1, n2) 1, (p2, n1) 0, (p2, n2) 1/2 -> 1.5 / 4.
    assert_eq!(r.roc_auc, Some(0.375));
    // 2 negatives, 0 allowed at every budget: threshold 0.5 (n1); nothing above it.
    assert_eq!(r.at_fpr[2].threshold, Some(0.5));
    assert_eq!(r.at_fpr[2].true_positives, 0);
    // top-2 of the full ranking: n1, p1 -> no registered miner; unscored r is last.
    assert_eq!(r.registered.in_top_k[3].registered, 0);
}

#[test]
fn all_scores_equal_gives_auc_one_half_and_prevalence_ap() {
    let labels = vec![
        rig("p1", "mining_pure", 1, 3.0, START),
        neg("n1", "household"),
        neg("n2", "household"),
        neg("n3", "household"),
    ];
    let scores: Vec<Scored> = ["p1", "n1", "n2", "n3"]
        .iter()
        .map(|id| sc(id, 1.0))
        .collect();
    let r = evaluate(&labels, &scores);
    assert_eq!(r.roc_auc, Some(0.5));
    assert_eq!(r.average_precision, Some(0.25));
    // Ties never buy recall: the threshold is the tied score, nothing is strictly above.
    assert!(r
        .at_fpr
        .iter()
        .all(|op| op.flagged == 0 && op.recall.rate == Some(0.0)));
    // No scores at all: the same, every meter unscored.
    let r = evaluate(&labels, &[]);
    assert_eq!((r.unscored_meters, r.roc_auc), (4, Some(0.5)));
    assert!(r.at_fpr.iter().all(|op| op.flagged == 0));
}

#[test]
fn no_positives_leaves_positive_metrics_undefined() {
    let labels = vec![neg("n1", "household"), neg("n2", "commercial")];
    let r = evaluate(&labels, &[sc("n1", 1.0), sc("n2", 2.0)]);
    assert_eq!((r.positives, r.negatives), (0, 2));
    assert_eq!((r.roc_auc, r.average_precision), (None, None));
    assert_eq!(r.precision_at_k[3].k, 0);
    assert_eq!(r.precision_at_k[3].precision, None);
    assert_eq!(r.precision_at_k[0].precision, Some(0.0));
    for op in &r.at_fpr {
        assert_eq!(op.recall.rate, None);
        assert_eq!(op.precision, 0.0);
    }
    let text = r.text();
    assert!(text.contains("ROC AUC") && text.contains(" -"), "{text}");
}

#[test]
fn all_positives_leaves_auc_and_fpr_undefined() {
    let labels = vec![
        rig("p1", "mining_pure", 1, 3.0, START),
        rig("p2", "mining_pure", 1, 3.0, START),
    ];
    let r = evaluate(&labels, &[sc("p1", 1.0), sc("p2", 2.0)]);
    assert_eq!(r.negatives, 0);
    assert_eq!(r.roc_auc, None);
    assert_eq!(r.average_precision, Some(1.0));
    // No negatives: the budget admits all of them, every scored meter is flagged.
    for op in &r.at_fpr {
        assert_eq!((op.threshold, op.fpr), (None, None));
        assert_eq!(op.recall, Rate::new(2, 2));
    }
}

#[test]
fn only_registered_miners_and_inconsistent_labels() {
    let labels = vec![
        rig("r1", "registered_miner", 5, 3.0, START),
        neg("m", "mining_pure"), // a rig kind that is not mining: inconsistent
        rig("g", "grow_op", 1, 1.0, START), // mining, not a rig kind: inconsistent
    ];
    let r = evaluate(&labels, &[sc("r1", 1.0)]);
    assert_eq!((r.meters, r.positives, r.negatives), (3, 1, 1));
    assert_eq!(r.inconsistent_labels, 2);
    assert!(r.text().contains("WARNING: 2 labels whose kind disagrees"));
}

#[test]
fn json_has_nulls_for_undefined_values() {
    let labels = vec![neg("n1", "household")];
    let r = evaluate(&labels, &[sc("n1", 1.0)]);
    let v: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert!(v["roc_auc"].is_null());
    assert_eq!(v["at_fpr"][0]["name"], "FPR 0.1%");
    assert!(v["at_fpr"][0]["recall"]["rate"].is_null());
    assert!(v.get("labels_file").is_none());
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<EvalReport>();
    check::<EvalError>();
    check::<Label>();
    check::<Scored>();
    check::<EvalOptions>();
}

#[test]
fn text_report_snapshot() {
    let (labels, scores) = small_region();
    let text = evaluate(&labels, &scores).text();
    let expected = "\
meters 10: 4 hidden miners (positives), 5 negatives, 1 registered miner (excluded, see below)

Ranking (registered miners excluded)
  ROC AUC                     0.5750
  average precision           0.6361
  precision@50                 0.444  4 of 9
  precision@100                0.444  4 of 9
  precision@200                0.444  4 of 9
  precision@4 (= #positives)   0.500  2 of 4

Operating points (thresholds strict: score > threshold)
                                      FPR 0.1%  FPR 0.5%  FPR 1%  flagged
  score threshold                       8.0000    8.0000  8.0000        -
  meters flagged                             1         1       1        3
  true positives                             1         1       1        2
  false positives                            0         0       0        1
  false-positive rate                    0.000     0.000   0.000    0.200
  precision                              1.000     1.000   1.000    0.667
  recall (n=4)                           0.250     0.250   0.250    0.500
    1 device (n=2)                       0.000     0.000   0.000    0.000
    2-3 devices (n=1)                    0.000     0.000   0.000    1.000
    4+ devices (n=1)                     1.000     1.000   1.000    1.000
    rigs < 1.5 kW (n=1)                  0.000     0.000   0.000    0.000
    mining_mixed (n=2)                   0.000     0.000   0.000    0.500
    mining_night (n=1)                   0.000     0.000   0.000    0.000
    mining_pure (n=1)                    1.000     1.000   1.000    1.000
  false positives by kind
    commercial_24x7 (of 1)                   0         0       0        1
    household (of 3)                         0         0       0        0
    household_storage_heating (of 1)         0         0       0        0
  registered miners flagged                  0         0       0        0

Onset of flagged true positives (error in UTC days)
  window start 2024-03-01T00:00:00Z (earliest onset in labels)
                         n  median |error|  within 1 day
  onset at window start  1             0.0         1.000
  onset mid-window       1             3.0         0.000
  all                    2             1.5         0.500

Device count of flagged true positives: 2 with an estimate, exact 0.500, within +-1 1.000

Registered miners: 1
  flagged: 0 (must be 0)
  in the ranking: top 50: 1, top 100: 1, top 200: 1, top 4 (= #positives): 1
";
    assert_eq!(text, expected, "got:\n{text}");
}
