//! Ranking kernels on plain slices: ROC AUC, average precision, precision@k and the conservative
//! score threshold at a false-positive-rate budget.
//!
//! Inputs: `y[i]` is true for a positive, `s[i]` its score (higher = more suspicious). Scores are
//! never NaN: an unscored meter carries `f64::NEG_INFINITY`, so it ties with the other unscored
//! meters below every scored one, which is what `metrics.py` gets by replacing missing scores with
//! "lowest finite score - 1". Every definition mirrors `../shared/peers/metrics.py` (and through it
//! scikit-learn), so our numbers and the utility team's are comparable. Each kernel is
//! O(n log n) and is tested against a naive O(n^2) reference that shares no code with it.

use std::cmp::Ordering;

/// Descending order of two scores (never NaN here; NaN would compare equal).
fn desc(a: f64, b: f64) -> Ordering {
    b.partial_cmp(&a).unwrap_or(Ordering::Equal)
}

/// Indices of `s` from the highest score down; ties keep input order (a stable sort, as
/// `np.argsort(-s, kind="stable")` in `metrics.py`).
pub fn descending_order(s: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..s.len()).collect();
    idx.sort_by(|&a, &b| desc(s[a], s[b]));
    idx
}

/// Per group of tied scores, from the highest score down: (positives, negatives).
fn tie_groups(y: &[bool], s: &[f64]) -> Vec<(u64, u64)> {
    let order = descending_order(s);
    let mut groups: Vec<(u64, u64)> = Vec::new();
    let mut last: Option<f64> = None;
    for &i in &order {
        // `==` also ties -0.0 with 0.0 and -inf with -inf, as numpy does.
        if last != Some(s[i]) {
            groups.push((0, 0));
            last = Some(s[i]);
        }
        if let Some(g) = groups.last_mut() {
            if y[i] {
                g.0 += 1;
            } else {
                g.1 += 1;
            }
        }
    }
    groups
}

/// ROC AUC: the probability that a random positive scores above a random negative, a tie
/// counting 1/2 (the Mann-Whitney U statistic / (n_pos n_neg); equal to the trapezoidal area
/// under scikit-learn's `roc_curve`). `None` unless both classes are present (`metrics.py`: NaN).
///
/// Counted exactly in integers per tie group: 2U = sum over groups of
/// `2 pos_g * neg_below + pos_g * neg_g`.
pub fn roc_auc(y: &[bool], s: &[f64]) -> Option<f64> {
    debug_assert_eq!(y.len(), s.len());
    let n_pos = y.iter().filter(|&&p| p).count() as u128;
    let n_neg = y.len() as u128 - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut twice_u: u128 = 0;
    let mut neg_below = n_neg;
    for (pos_g, neg_g) in tie_groups(y, s) {
        let (pos_g, neg_g) = (u128::from(pos_g), u128::from(neg_g));
        neg_below -= neg_g;
        twice_u += 2 * pos_g * neg_below + pos_g * neg_g;
    }
    Some(twice_u as f64 / (2 * n_pos * n_neg) as f64)
}

/// Average precision as scikit-learn's `average_precision_score` defines it: the step-wise
/// (not interpolated) area under the precision-recall curve, `sum_n (R_n - R_{n-1}) P_n` over
/// the distinct score thresholds from the top, tied scores entering together. `None` without
/// positives (`metrics.py`: NaN).
pub fn average_precision(y: &[bool], s: &[f64]) -> Option<f64> {
    debug_assert_eq!(y.len(), s.len());
    let n_pos = y.iter().filter(|&&p| p).count();
    if n_pos == 0 {
        return None;
    }
    let (mut tp, mut fp, mut ap) = (0u64, 0u64, 0.0f64);
    for (pos_g, neg_g) in tie_groups(y, s) {
        tp += pos_g;
        fp += neg_g;
        if pos_g > 0 {
            ap += (pos_g as f64 / n_pos as f64) * (tp as f64 / (tp + fp) as f64);
        }
    }
    Some(ap)
}

/// Share of positives among the first `k` of a ranking (`ranked[i]` = label of rank i). `k` is
/// capped at the ranking's length; `None` when that leaves nothing (`metrics.py`: NaN).
/// Returns (k used, positives in it, precision).
pub fn precision_at_k(ranked: &[bool], k: usize) -> (usize, usize, Option<f64>) {
    let k_eff = k.min(ranked.len());
    let hits = ranked[..k_eff].iter().filter(|&&p| p).count();
    let p = (k_eff > 0).then(|| hits as f64 / k_eff as f64);
    (k_eff, hits, p)
}

/// The score a meter must *strictly exceed* to be flagged so that at most `fpr` of the negatives
/// are: the score of the first negative, from the top, that would break the budget
/// (`threshold_at_fpr` in `metrics.py`). With ties at the threshold all tied meters stay
/// unflagged, so ties never buy recall. `NEG_INFINITY` when the budget admits every negative
/// (every scored meter is then above it).
pub fn threshold_at_fpr(neg_scores: &[f64], fpr: f64) -> f64 {
    // Same f64 arithmetic as Python's `int(math.floor(fpr * n))`.
    let allowed = (fpr * neg_scores.len() as f64).floor();
    if allowed >= neg_scores.len() as f64 {
        return f64::NEG_INFINITY;
    }
    let allowed = allowed.max(0.0) as usize;
    let mut ordered = neg_scores.to_vec();
    ordered.sort_by(|a, b| desc(*a, *b));
    ordered[allowed]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NINF: f64 = f64::NEG_INFINITY;

    /// Naive AUC: every (positive, negative) pair.
    fn auc_pairs(y: &[bool], s: &[f64]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for i in (0..y.len()).filter(|&i| y[i]) {
            for j in (0..y.len()).filter(|&j| !y[j]) {
                pairs += 1.0;
                if s[i] > s[j] {
                    wins += 1.0;
                } else if s[i] == s[j] {
                    wins += 0.5;
                }
            }
        }
        wins / pairs
    }

    /// Naive AP: for each distinct score t (descending), precision and recall of `s >= t`.
    fn ap_thresholds(y: &[bool], s: &[f64]) -> f64 {
        let mut ts: Vec<f64> = s.to_vec();
        ts.sort_by(|a, b| b.partial_cmp(a).unwrap());
        ts.dedup();
        let n_pos = y.iter().filter(|&&p| p).count() as f64;
        let (mut ap, mut prev_r) = (0.0, 0.0);
        for t in ts {
            let sel: Vec<usize> = (0..s.len()).filter(|&i| s[i] >= t).collect();
            let tp = sel.iter().filter(|&&i| y[i]).count() as f64;
            let (p, r) = (tp / sel.len() as f64, tp / n_pos);
            ap += (r - prev_r) * p;
            prev_r = r;
        }
        ap
    }

    #[test]
    fn auc_perfect_inverted_and_hand_ties() {
        let y = [true, true, false, false];
        assert_eq!(roc_auc(&y, &[4.0, 3.0, 2.0, 1.0]), Some(1.0));
        assert_eq!(roc_auc(&y, &[1.0, 2.0, 3.0, 4.0]), Some(0.0));
        // Pairs: (3 vs 3) = 1/2, (3 vs 1) = 1, (2 vs 3) = 0, (2 vs 1) = 1 -> 2.5 / 4.
        assert_eq!(roc_auc(&y, &[3.0, 2.0, 3.0, 1.0]), Some(0.625));
    }

    #[test]
    fn auc_all_scores_equal_is_one_half() {
        let y = [true, false, false, true, false];
        assert_eq!(roc_auc(&y, &[7.0; 5]), Some(0.5));
        assert_eq!(roc_auc(&y, &[NINF; 5]), Some(0.5));
    }

    #[test]
    fn auc_undefined_with_one_class() {
        assert_eq!(roc_auc(&[false, false], &[1.0, 2.0]), None);
        assert_eq!(roc_auc(&[true, true], &[1.0, 2.0]), None);
        assert_eq!(roc_auc(&[], &[]), None);
    }

    #[test]
    fn auc_unscored_rank_last_and_tie_each_other() {
        // pos: 5, -inf; neg: 4, -inf. Pairs: (5,4)=1, (5,-inf)=1, (-inf,4)=0, (-inf,-inf)=1/2.
        let y = [true, true, false, false];
        assert_eq!(roc_auc(&y, &[5.0, NINF, 4.0, NINF]), Some(0.625));
    }

    #[test]
    fn ap_hand_examples() {
        // Ranking + - + -: P@1 = 1 (R 0.5), P@3 = 2/3 (R 1) -> 0.5 + 0.5 * 2/3.
        let y = [true, false, true, false];
        let ap = average_precision(&y, &[4.0, 3.0, 2.0, 1.0]).unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15);
        // A tie of the top two (+, -) enters together: P = 1/2 at R = 1/2, then 2/3 at R = 1.
        let ap = average_precision(&y, &[4.0, 4.0, 2.0, 1.0]).unwrap();
        assert!((ap - (0.25 + 1.0 / 3.0)).abs() < 1e-15);
        // All tied: AP = prevalence.
        assert_eq!(average_precision(&y, &[1.0; 4]), Some(0.5));
        // All positives: 1; no positives: undefined.
        assert_eq!(average_precision(&[true, true], &[1.0, 0.0]), Some(1.0));
        assert_eq!(average_precision(&[false, false], &[1.0, 0.0]), None);
    }

    #[test]
    fn precision_at_k_caps_k_and_is_undefined_when_empty() {
        let ranked = [true, false, true];
        assert_eq!(precision_at_k(&ranked, 2), (2, 1, Some(0.5)));
        assert_eq!(precision_at_k(&ranked, 50), (3, 2, Some(2.0 / 3.0)));
        assert_eq!(precision_at_k(&ranked, 0), (0, 0, None));
        assert_eq!(precision_at_k(&[], 5), (0, 0, None));
    }

    #[test]
    fn stable_order_breaks_ties_by_input_order() {
        assert_eq!(
            descending_order(&[1.0, 3.0, 1.0, 3.0, NINF, 0.0]),
            vec![1, 3, 0, 2, 5, 4]
        );
        assert_eq!(descending_order(&[0.0, -0.0, 0.0]), vec![0, 1, 2]);
    }

    #[test]
    fn threshold_is_strict_and_conservative() {
        let neg: Vec<f64> = (0..1000).map(f64::from).collect();
        // 0.1% of 1000 = 1 negative allowed: the threshold is the 2nd highest (998), so only
        // 999 is above it.
        assert_eq!(threshold_at_fpr(&neg, 0.001), 998.0);
        assert_eq!(threshold_at_fpr(&neg, 0.01), 989.0);
        // Fewer negatives than 1/fpr: no negative may pass, the threshold is the top one.
        assert_eq!(threshold_at_fpr(&neg[..500], 0.001), 499.0);
        // Ties: with the top 3 tied, allowing 1 still flags none of them.
        let tied = [5.0, 5.0, 5.0, 1.0];
        assert_eq!(threshold_at_fpr(&tied, 0.25), 5.0);
        // Budget admits every negative (or there are none): everything scored is above.
        assert_eq!(threshold_at_fpr(&[1.0], 1.0), NINF);
        assert_eq!(threshold_at_fpr(&[], 0.01), NINF);
    }

    /// A deterministic pseudo-random sequence (splitmix64), so the test needs no RNG crate.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn kernels_match_naive_references_on_seeded_random_data() {
        let mut st = 42u64;
        for case in 0..200 {
            let n = 1 + (splitmix(&mut st) % 60) as usize;
            // Few distinct values, so ties are common; some unscored.
            let levels = 1 + splitmix(&mut st) % 8;
            let y: Vec<bool> = (0..n)
                .map(|_| splitmix(&mut st).is_multiple_of(3))
                .collect();
            let s: Vec<f64> = (0..n)
                .map(|_| match splitmix(&mut st) % (levels + 1) {
                    0 => NINF,
                    v => v as f64,
                })
                .collect();
            let n_pos = y.iter().filter(|&&p| p).count();
            match roc_auc(&y, &s) {
                Some(a) => assert!((a - auc_pairs(&y, &s)).abs() < 1e-12, "case {case}"),
                None => assert!(n_pos == 0 || n_pos == n),
            }
            match average_precision(&y, &s) {
                Some(a) => assert!((a - ap_thresholds(&y, &s)).abs() < 1e-12, "case {case}"),
                None => assert_eq!(n_pos, 0),
            }
        }
    }
}
