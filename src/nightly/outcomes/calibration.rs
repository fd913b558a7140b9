//! The calibration of score to the probability of a confirmed rig: a logistic regression of
//! confirmed-vs-no-mining on the visited meters' evidence, fitted once both classes have
//! [`MIN_PER_CLASS`] outcomes, and used to rank the list only when it beats the raw score by
//! cross-validated ROC AUC. Inputs: the `outcomes` table, tonight's findings; output:
//! [`Calibration`] (in `nightly.json`; its probability ranks the list when used).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;

/// Outcomes of each class needed before a calibration is fitted.
pub const MIN_PER_CLASS: usize = 30;

/// The calibration of score to the probability of a confirmed rig.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Calibration {
    pub confirmed: usize,
    pub no_mining: usize,
    /// Fitted (enough outcomes of both classes among tonight's meters).
    pub fitted: bool,
    /// Cross-validated ROC AUC of the calibrated probability and of the raw score.
    pub cv_auc_calibrated: Option<f64>,
    pub cv_auc_score: Option<f64>,
    /// Whether it ranked tonight's cases (it beat the raw score).
    pub used: bool,
    pub inputs: Vec<String>,
    /// Per flagged meter tonight: its calibrated probability (when fitted).
    pub probability: BTreeMap<String, f64>,
    pub text: String,
}

const CAL_INPUTS: [&str; 8] = [
    "score",
    "rig_kw",
    "level",
    "flat",
    "steady",
    "no_rhythm",
    "not_heating",
    "peer",
];

fn cal_row(f: &crate::score::Finding) -> [f64; 8] {
    let e = &f.evidence;
    [
        f.score,
        f.rig_kw.ln_1p(),
        e.level,
        e.flat,
        e.steady,
        e.no_rhythm,
        e.not_heating,
        e.peer,
    ]
}

/// Fits a logistic regression of confirmed-vs-no-mining on the visited meters' evidence (as
/// tonight's run sees them) when both classes have [`MIN_PER_CLASS`] outcomes, and compares it
/// to the raw score by 5-fold cross-validated ROC AUC. `None` when no outcome is recorded.
pub fn calibrate(
    conn: &Connection,
    _dir: &Path,
    ing: &crate::ingest::Ingested,
    det: &crate::detect::Detection,
) -> rusqlite::Result<Option<Calibration>> {
    let mut st = conn.prepare(
        "SELECT meter_id, outcome FROM outcomes WHERE outcome IN ('mining_confirmed', 'no_mining')
         ORDER BY id",
    )?;
    let labelled: Vec<(String, bool)> = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)? == "mining_confirmed",
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    if labelled.is_empty() {
        return Ok(None);
    }
    let confirmed = labelled.iter().filter(|(_, y)| *y).count();
    let no_mining = labelled.len() - confirmed;
    let mut cal = Calibration {
        confirmed,
        no_mining,
        fitted: false,
        cv_auc_calibrated: None,
        cv_auc_score: None,
        used: false,
        inputs: CAL_INPUTS.iter().map(ToString::to_string).collect(),
        probability: BTreeMap::new(),
        text: String::new(),
    };
    let m = &ing.matrix;
    let by_meter: BTreeMap<usize, &crate::score::Finding> =
        det.findings.iter().map(|f| (f.meter, f)).collect();
    let mut x: Vec<[f64; 8]> = Vec::new();
    let mut y: Vec<bool> = Vec::new();
    for (id, label) in &labelled {
        if let Some(f) = m.meter_index(id).and_then(|i| by_meter.get(&i)) {
            x.push(cal_row(f));
            y.push(*label);
        }
    }
    let (pos, neg) = (
        y.iter().filter(|v| **v).count(),
        y.iter().filter(|v| !**v).count(),
    );
    if pos < MIN_PER_CLASS || neg < MIN_PER_CLASS {
        cal.text = format!(
            "not fitted: {confirmed} confirmed and {no_mining} no-mining outcomes ({pos} and {neg} \
             among tonight's meters); {MIN_PER_CLASS} of each are needed. Tonight's list is ranked \
             by score."
        );
        return Ok(Some(cal));
    }
    let fit = |xs: &[[f64; 8]],
               ys: &[bool]|
     -> Option<(Scaler, linfa_logistic::FittedLogisticRegression<f64, usize>)> {
        use linfa::traits::Fit;
        let sc = Scaler::of(xs);
        let arr = sc.array(xs);
        let t = ndarray::Array1::from_iter(ys.iter().map(|&b| usize::from(b)));
        let ds = linfa::Dataset::new(arr, t);
        linfa_logistic::LogisticRegression::default()
            .alpha(1.0)
            .max_iterations(200)
            .fit(&ds)
            .ok()
            .map(|m| (sc, m))
    };
    // 5-fold cross-validation (folds by position: deterministic).
    let mut cv = vec![f64::NAN; x.len()];
    for k in 0..5 {
        let train: Vec<usize> = (0..x.len()).filter(|i| i % 5 != k).collect();
        let test: Vec<usize> = (0..x.len()).filter(|i| i % 5 == k).collect();
        let xs: Vec<[f64; 8]> = train.iter().map(|&i| x[i]).collect();
        let ys: Vec<bool> = train.iter().map(|&i| y[i]).collect();
        if let Some((sc, model)) = fit(&xs, &ys) {
            let xt: Vec<[f64; 8]> = test.iter().map(|&i| x[i]).collect();
            let p = p_confirmed(&model, &sc.array(&xt));
            for (j, &i) in test.iter().enumerate() {
                cv[i] = p[j];
            }
        }
    }
    let raw: Vec<f64> = x.iter().map(|r| r[0]).collect();
    cal.cv_auc_score = crate::eval::ranking::roc_auc(&y, &raw);
    if cv.iter().all(|v| v.is_finite()) {
        cal.cv_auc_calibrated = crate::eval::ranking::roc_auc(&y, &cv);
    }
    if let Some((sc, model)) = fit(&x, &y) {
        cal.fitted = true;
        let flagged: Vec<&crate::score::Finding> =
            det.findings.iter().filter(|f| f.flagged).collect();
        let rows: Vec<[f64; 8]> = flagged.iter().map(|f| cal_row(f)).collect();
        if !rows.is_empty() {
            let p = p_confirmed(&model, &sc.array(&rows));
            for (f, p) in flagged.iter().zip(p.iter()) {
                cal.probability
                    .insert(m.meter_ids()[f.meter].to_string(), *p);
            }
        }
    }
    cal.used = cal.fitted
        && matches!((cal.cv_auc_calibrated, cal.cv_auc_score), (Some(c), Some(s)) if c > s);
    cal.text = format!(
        "fitted on {} outcomes ({pos} confirmed, {neg} no mining); cross-validated ROC AUC {} \
         calibrated vs {} raw score: tonight's cases are ranked by {}.",
        x.len(),
        cal.cv_auc_calibrated
            .map_or("-".into(), |v| format!("{v:.3}")),
        cal.cv_auc_score.map_or("-".into(), |v| format!("{v:.3}")),
        if cal.used {
            "the calibrated probability"
        } else {
            "score"
        }
    );
    Ok(Some(cal))
}

/// The fitted probability of a confirmed rig. linfa-logistic's `predict_probabilities` gives
/// the probability of its *positive* class, which is the more frequent label of the training
/// rows (not label 1): with more no-mining outcomes than confirmed ones it is the probability of
/// no mining, and a cross-validation fold can differ from the next.
fn p_confirmed(
    model: &linfa_logistic::FittedLogisticRegression<f64, usize>,
    x: &ndarray::Array2<f64>,
) -> ndarray::Array1<f64> {
    let p = model.predict_probabilities(x);
    if model.labels().pos.class == 1 {
        p
    } else {
        p.mapv(|v| 1.0 - v)
    }
}

/// Standardisation of the calibration inputs (mean 0, sd 1 on the training rows).
struct Scaler {
    mean: [f64; 8],
    sd: [f64; 8],
}

impl Scaler {
    fn of(xs: &[[f64; 8]]) -> Scaler {
        let n = xs.len().max(1) as f64;
        let mut mean = [0.0; 8];
        let mut sd = [0.0; 8];
        for j in 0..8 {
            mean[j] = xs.iter().map(|r| r[j]).sum::<f64>() / n;
            let var = xs.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
            sd[j] = if var > 1e-12 { var.sqrt() } else { 1.0 };
        }
        Scaler { mean, sd }
    }
    fn array(&self, xs: &[[f64; 8]]) -> ndarray::Array2<f64> {
        ndarray::Array2::from_shape_fn((xs.len(), 8), |(i, j)| {
            let v = (xs[i][j] - self.mean[j]) / self.sd[j];
            if v.is_finite() {
                v
            } else {
                0.0
            }
        })
    }
}
