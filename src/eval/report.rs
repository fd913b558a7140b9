//! [`evaluate`]: ground truth ([`Label`]s) + a run's scores ([`Scored`]) -> [`EvalReport`], a pure
//! function with no I/O.
//!
//! Definitions follow `../shared/peers/metrics.py` wherever the two overlap, so the utility's
//! data team gets the same numbers from the same files:
//! - positives = `is_mining` and kind != `registered_miner`; every other meter except registered
//!   miners is a negative. Registered miners are left out of every ranking metric and reported
//!   separately.
//! - a labelled meter missing from scores.csv (or with an empty score) ranks last, tied with the
//!   other unscored meters; it is counted (`unscored_meters`). Scores of meters not in the labels
//!   are ignored (counted too).
//! - thresholds at a false-positive-rate budget are strict and conservative
//!   ([`ranking::threshold_at_fpr`]).
//!
//! Each operating point (three FPR budgets, and the run's own `flagged` column) gets the same
//! breakdown: recall overall, by device count, for small rigs and by rig kind, and false positives
//! by negative kind, so one can see whether hard negatives (24/7 commercial, storage heating,
//! grow-ops) dominate.
//!
//! Where metrics.py is silent we define: precision of a flag set = true positives / max(1, meters
//! flagged including registered miners) (its `suspects_precision`); an undefined rate (no
//! positives in the group) is `None` (JSON `null`), also for the flagged list's recall, which
//! metrics.py would print as 0 when there are no positives at all.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::accuracy::{device_accuracy, onset_accuracy, DeviceAccuracy, OnsetAccuracy};
use super::input::{Label, Scored};
use super::ranking;

/// False-positive-rate budgets of the operating points: 0.1 %, 0.5 % and 1 % of the negatives.
/// An inspector visits a few meters per thousand; `metrics.py` reports the same three.
pub const FPR_BUDGETS: [f64; 3] = [0.001, 0.005, 0.01];
/// k of precision@k (besides k = number of positives), as in `metrics.py`.
pub const PRECISION_KS: [usize; 3] = [50, 100, 200];
/// Device-count bins (label, lowest, highest): `DEVICE_BINS` of `metrics.py`.
pub const DEVICE_BINS: [(&str, u32, u32); 3] = [("1", 1, 1), ("2-3", 2, 3), ("4+", 4, u32::MAX)];
/// A rig under this power (kW, `n_devices * device_kw`) is "small": one low-power device, whose
/// ~1.3 kW flat load is easily hidden under a household's evening peak or a heat pump.
pub const SMALL_RIG_KW: f64 = 1.5;

/// hits / of, with the share (`None` when `of` is 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub hits: usize,
    pub of: usize,
    pub rate: Option<f64>,
}

impl Rate {
    pub fn new(hits: usize, of: usize) -> Self {
        Rate {
            hits,
            of,
            rate: (of > 0).then(|| hits as f64 / of as f64),
        }
    }
}

/// Precision among the top k of the ranking (registered miners excluded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrecisionAtK {
    /// "50", "100", "200" or "npos" (k = number of positives).
    pub name: String,
    pub k: usize,
    /// k capped at the number of ranked meters.
    pub k_effective: usize,
    pub hits: usize,
    pub precision: Option<f64>,
}

/// A set of flagged meters (above an FPR threshold, or the run's `flagged` column) against the
/// truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// "FPR 0.1%", "FPR 0.5%", "FPR 1%" or "flagged".
    pub name: String,
    /// The budget, for FPR points.
    pub target_fpr: Option<f64>,
    /// Flagged = score strictly above this. `None` for the flagged column, and when the budget
    /// admits every negative (then every scored meter is flagged).
    pub threshold: Option<f64>,
    /// Meters flagged, registered miners excluded (`flagged_at_fpr_*` in metrics.py).
    pub flagged: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    /// Achieved false-positive rate (`None` without negatives).
    pub fpr: Option<f64>,
    /// true positives / max(1, flagged + registered miners flagged).
    pub precision: f64,
    pub recall: Rate,
    /// Recall per device-count bin ("1", "2-3", "4+").
    pub recall_by_devices: BTreeMap<String, Rate>,
    /// Recall for rigs under [`SMALL_RIG_KW`].
    pub recall_small_rigs: Rate,
    /// Recall per kind of positive (`mining_pure`, `mining_night`, ...).
    pub recall_by_kind: BTreeMap<String, Rate>,
    /// False positives per negative kind (every negative kind, zeros included).
    pub false_positives_by_kind: BTreeMap<String, usize>,
    /// Registered miners flagged (above the threshold); must be 0 for the flagged column.
    pub registered_flagged: usize,
}

/// Registered miners in the top k of the full ranking (all meters).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisteredInTopK {
    /// "50", "100", "200" or "npos".
    pub name: String,
    pub k: usize,
    pub registered: usize,
}

/// Registered (licensed) miners: legal, so none may be flagged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisteredMiners {
    pub count: usize,
    /// From the `flagged` column (must be 0); `None` without that column.
    pub flagged: Option<usize>,
    pub in_top_k: Vec<RegisteredInTopK>,
}

/// Everything `gridsleuth eval` reports (also written as `eval.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub version: &'static str,
    /// The input files (set by `run_eval`; `None` for [`evaluate`] on its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores_file: Option<String>,
    /// Label kinds left out by `--exclude-kind` (with their count), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
    /// Meters in labels (registered miners included).
    pub meters: usize,
    pub positives: usize,
    pub negatives: usize,
    pub registered_miners: usize,
    /// Labelled meters without a score (ranked last).
    pub unscored_meters: usize,
    /// Scored meters that are not in labels (ignored).
    pub scores_not_in_labels: usize,
    /// Labels whose kind and is_mining disagree (e.g. `mining_pure` with is_mining false).
    pub inconsistent_labels: usize,
    pub positives_by_kind: BTreeMap<String, usize>,
    pub negatives_by_kind: BTreeMap<String, usize>,
    pub roc_auc: Option<f64>,
    pub average_precision: Option<f64>,
    pub precision_at_k: Vec<PrecisionAtK>,
    /// One per [`FPR_BUDGETS`].
    pub at_fpr: Vec<OperatingPoint>,
    /// The run's own `flagged` column (`None` when scores.csv has none).
    pub flagged: Option<OperatingPoint>,
    pub onset: Option<OnsetAccuracy>,
    pub devices: Option<DeviceAccuracy>,
    pub registered: RegisteredMiners,
}

/// [`evaluate_with_window`] with the window start taken as the earliest onset in the labels.
pub fn evaluate(labels: &[Label], scores: &[Scored]) -> EvalReport {
    evaluate_with_window(labels, scores, None)
}

/// Scores `scores` against `labels`. Label order breaks score ties (as in `metrics.py`); if a
/// meter appears twice in `scores`, its first row counts. `window_start` (the run's grid start)
/// tells onsets at the start of the data from mid-window ones; without it, the earliest onset in
/// the labels is taken.
pub fn evaluate_with_window(
    labels: &[Label],
    scores: &[Scored],
    window_start: Option<DateTime<Utc>>,
) -> EvalReport {
    let mut by_id: HashMap<&str, &Scored> = HashMap::with_capacity(scores.len());
    for s in scores {
        by_id.entry(s.meter_id.as_str()).or_insert(s);
    }
    let label_ids: std::collections::HashSet<&str> =
        labels.iter().map(|l| l.meter_id.as_str()).collect();
    let scores_not_in_labels = by_id.keys().filter(|id| !label_ids.contains(*id)).count();
    let joined: Vec<Option<&Scored>> = labels
        .iter()
        .map(|l| by_id.get(l.meter_id.as_str()).copied())
        .collect();
    // Unscored (missing, empty, or NaN from a library caller) = -inf: last, tied with each other.
    let given: Vec<Option<f64>> = joined
        .iter()
        .map(|s| s.and_then(|s| s.score).filter(|v| !v.is_nan()))
        .collect();
    let unscored_meters = given.iter().filter(|v| v.is_none()).count();
    let score: Vec<f64> = given
        .iter()
        .map(|v| v.unwrap_or(f64::NEG_INFINITY))
        .collect();

    // The ranked population: everyone but registered miners, in label order.
    let ev: Vec<usize> = (0..labels.len())
        .filter(|&i| !labels[i].is_registered())
        .collect();
    let y: Vec<bool> = ev.iter().map(|&i| labels[i].is_positive()).collect();
    let s: Vec<f64> = ev.iter().map(|&i| score[i]).collect();
    let positives = y.iter().filter(|&&p| p).count();
    let negatives = y.len() - positives;

    let mut positives_by_kind = BTreeMap::new();
    let mut negatives_by_kind = BTreeMap::new();
    for l in labels.iter().filter(|l| !l.is_registered()) {
        let m = if l.is_positive() {
            &mut positives_by_kind
        } else {
            &mut negatives_by_kind
        };
        *m.entry(l.kind.clone()).or_insert(0usize) += 1;
    }

    let order = ranking::descending_order(&s);
    let ranked: Vec<bool> = order.iter().map(|&j| y[j]).collect();
    let ks = || {
        PRECISION_KS
            .iter()
            .map(|k| (k.to_string(), *k))
            .chain(std::iter::once(("npos".to_string(), positives)))
    };
    let precision_at_k = ks()
        .map(|(name, k)| {
            let (k_effective, hits, precision) = ranking::precision_at_k(&ranked, k);
            PrecisionAtK {
                name,
                k,
                k_effective,
                hits,
                precision,
            }
        })
        .collect();

    let neg_scores: Vec<f64> = (0..y.len()).filter(|&j| !y[j]).map(|j| s[j]).collect();
    let at_fpr = FPR_BUDGETS
        .iter()
        .map(|&fpr| {
            let thr = ranking::threshold_at_fpr(&neg_scores, fpr);
            let sel: Vec<bool> = score.iter().map(|&v| v > thr).collect();
            let mut op = operating_point(labels, &sel, &positives_by_kind, &negatives_by_kind);
            op.name = format!("FPR {}%", fpr * 100.0);
            op.target_fpr = Some(fpr);
            op.threshold = thr.is_finite().then_some(thr);
            op
        })
        .collect();

    let has_flagged = scores.iter().any(|s| s.flagged.is_some());
    let flagged_sel: Vec<bool> = joined
        .iter()
        .map(|s| s.and_then(|s| s.flagged).unwrap_or(false))
        .collect();
    let flagged = has_flagged.then(|| {
        let mut op = operating_point(labels, &flagged_sel, &positives_by_kind, &negatives_by_kind);
        op.name = "flagged".to_string();
        op
    });
    let flagged_tp: Vec<usize> = (0..labels.len())
        .filter(|&i| flagged_sel[i] && labels[i].is_positive())
        .collect();
    let onset = has_flagged.then(|| onset_accuracy(labels, &joined, &flagged_tp, window_start));
    let devices = has_flagged.then(|| device_accuracy(labels, &joined, &flagged_tp));

    let in_top_k = registered_in_top_k(labels, &score, ks());
    let registered_miners = labels.iter().filter(|l| l.is_registered()).count();

    EvalReport {
        version: env!("CARGO_PKG_VERSION"),
        labels_file: None,
        excluded: None,
        scores_file: None,
        meters: labels.len(),
        positives,
        negatives,
        registered_miners,
        unscored_meters,
        scores_not_in_labels,
        inconsistent_labels: labels.iter().filter(|l| l.is_inconsistent()).count(),
        positives_by_kind,
        negatives_by_kind,
        roc_auc: ranking::roc_auc(&y, &s),
        average_precision: ranking::average_precision(&y, &s),
        precision_at_k,
        at_fpr,
        flagged,
        onset,
        devices,
        registered: RegisteredMiners {
            count: registered_miners,
            flagged: has_flagged.then(|| {
                (0..labels.len())
                    .filter(|&i| flagged_sel[i] && labels[i].is_registered())
                    .count()
            }),
            in_top_k,
        },
    }
}

/// Registered miners among the top k of the full ranking (all meters, ties in label order), for
/// each named k (`registered_in_top_npos` in metrics.py, for more k).
fn registered_in_top_k(
    labels: &[Label],
    score: &[f64],
    ks: impl Iterator<Item = (String, usize)>,
) -> Vec<RegisteredInTopK> {
    let order = ranking::descending_order(score);
    ks.map(|(name, k)| RegisteredInTopK {
        name,
        k,
        registered: order
            .iter()
            .take(k)
            .filter(|&&i| labels[i].is_registered())
            .count(),
    })
    .collect()
}

/// The breakdown of one flag set (`sel[i]` for label i). Name, budget and threshold are filled
/// in by the caller.
fn operating_point(
    labels: &[Label],
    sel: &[bool],
    positives_by_kind: &BTreeMap<String, usize>,
    negatives_by_kind: &BTreeMap<String, usize>,
) -> OperatingPoint {
    let (mut tp, mut fp, mut reg) = (0usize, 0usize, 0usize);
    let mut bins = [(0usize, 0usize); DEVICE_BINS.len()];
    let (mut small_hits, mut small_of) = (0usize, 0usize);
    let mut kind_hits: BTreeMap<&str, usize> = BTreeMap::new();
    let mut fp_by_kind: BTreeMap<String, usize> =
        negatives_by_kind.keys().map(|k| (k.clone(), 0)).collect();
    for (l, &on) in labels.iter().zip(sel) {
        if l.is_registered() {
            reg += usize::from(on);
        } else if l.is_positive() {
            tp += usize::from(on);
            *kind_hits.entry(l.kind.as_str()).or_insert(0) += usize::from(on);
            if let Some(n) = l.n_devices {
                for (b, (_, lo, hi)) in bins.iter_mut().zip(DEVICE_BINS) {
                    if (lo..=hi).contains(&n) {
                        b.0 += usize::from(on);
                        b.1 += 1;
                    }
                }
            }
            if l.rig_kw().is_some_and(|kw| kw < SMALL_RIG_KW) {
                small_hits += usize::from(on);
                small_of += 1;
            }
        } else if on {
            fp += 1;
            *fp_by_kind.entry(l.kind.clone()).or_insert(0) += 1;
        }
    }
    let n_pos: usize = positives_by_kind.values().sum();
    let n_neg: usize = negatives_by_kind.values().sum();
    OperatingPoint {
        name: String::new(),
        target_fpr: None,
        threshold: None,
        flagged: tp + fp,
        true_positives: tp,
        false_positives: fp,
        fpr: (n_neg > 0).then(|| fp as f64 / n_neg as f64),
        precision: tp as f64 / (tp + fp + reg).max(1) as f64,
        recall: Rate::new(tp, n_pos),
        recall_by_devices: DEVICE_BINS
            .iter()
            .zip(bins)
            .map(|((name, _, _), (h, of))| (name.to_string(), Rate::new(h, of)))
            .collect(),
        recall_small_rigs: Rate::new(small_hits, small_of),
        recall_by_kind: positives_by_kind
            .iter()
            .map(|(k, &of)| {
                let hits = kind_hits.get(k.as_str()).copied().unwrap_or(0);
                (k.clone(), Rate::new(hits, of))
            })
            .collect(),
        false_positives_by_kind: fp_by_kind,
        registered_flagged: reg,
    }
}
