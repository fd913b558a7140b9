//! `gridsleuth eval`: how good is a run? Scores a run directory's `scores.csv` against the
//! ground truth of a synthetic region (`labels.csv`) and reports ranking quality, recall at fixed
//! false-positive rates with breakdowns, and the accuracy of the onsets and device counts of the
//! flagged meters.
//!
//! Pipeline: [`input`] reads `labels.csv` -> [`Label`]s and `scores.csv` -> [`Scored`] rows (and
//! the window start from `run.json`); [`evaluate`] (pure, in [`report`], on the kernels of
//! [`ranking`], plus the onset and device-count checks of [`accuracy`]) turns them into an
//! [`EvalReport`]; [`EvalReport::text`] renders the table and serde the JSON. [`run_eval`] does
//! all of it for the CLI and writes `DIR/eval.json` (and `--json FILE`).
//!
//! The metric definitions mirror the utility data team's `../shared/peers/metrics.py` wherever
//! they overlap (positives, registered miners, unscored meters, tie handling, the conservative
//! FPR threshold, scikit-learn's AUC and AP), so the two can be compared number for number; see
//! [`report`] for the few definitions metrics.py does not have.

pub mod accuracy;
pub mod error;
pub mod input;
pub mod ranking;
pub mod report;
mod table;
mod text;

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::path::PathBuf;

use crate::output::console::ConsoleError;

pub use accuracy::{DeviceAccuracy, OnsetAccuracy, OnsetErrors};
pub use error::EvalError;
pub use input::{read_labels, read_scores, read_window_start, Label, Scored};
pub use report::{
    evaluate, evaluate_with_window, EvalReport, OperatingPoint, PrecisionAtK, Rate,
    RegisteredInTopK, RegisteredMiners,
};

/// Options of `gridsleuth eval`.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Ground truth: meter_id,kind,is_mining,n_devices,device_kw,onset[,...].
    pub labels: PathBuf,
    /// Run directory written by `gridsleuth run` (reads scores.csv and run.json, writes
    /// eval.json).
    pub run: PathBuf,
    /// Also write the report as JSON here.
    pub json: Option<PathBuf>,
    /// Leave meters of these label kinds out of every metric.
    pub exclude_kinds: Vec<String>,
}

/// `scores.csv` of a run directory.
pub const SCORES_FILE: &str = "scores.csv";
/// `run.json` of a run directory (its `grid.start` is the window start).
pub const RUN_JSON_FILE: &str = "run.json";
/// Where the report is written in the run directory.
pub const EVAL_JSON_FILE: &str = "eval.json";

/// `gridsleuth eval`: reads the labels and the run, evaluates, writes `DIR/eval.json` (and
/// `--json FILE`), and prints the text report to `out`. A failed write to `out` is an error
/// (the binary's writer turns a closed pipe into success before it gets here).
pub fn run_eval(args: &EvalOptions, out: &mut dyn Write) -> Result<EvalReport, EvalError> {
    let scores_path = args.run.join(SCORES_FILE);
    let mut labels = read_labels(&args.labels)?;
    let before = labels.len();
    labels.retain(|l| !args.exclude_kinds.iter().any(|k| k == &l.kind));
    let excluded = before - labels.len();
    let scores = read_scores(&scores_path)?;
    let window_start = read_window_start(&args.run.join(RUN_JSON_FILE))?;
    let mut report = evaluate_with_window(&labels, &scores, window_start);
    if !args.exclude_kinds.is_empty() {
        report.excluded = Some(format!(
            "{excluded} meters of kind {}",
            args.exclude_kinds.join(", ")
        ));
    }
    report.labels_file = Some(args.labels.display().to_string());
    report.scores_file = Some(scores_path.display().to_string());

    let eval_json = args.run.join(EVAL_JSON_FILE);
    let mut json =
        serde_json::to_vec_pretty(&report).map_err(|e| EvalError::write(&eval_json, e))?;
    json.push(b'\n');
    for path in std::iter::once(&eval_json).chain(&args.json) {
        crate::output::atomic::write_file(path, &json).map_err(|e| EvalError::write(path, e))?;
    }
    out.write_all(report.text().as_bytes())
        .map_err(ConsoleError)?;
    writeln!(
        out,
        "wrote {}{}",
        eval_json.display(),
        args.json
            .as_ref()
            .map_or(String::new(), |p| format!(", {}", p.display()))
    )
    .map_err(ConsoleError)?;
    Ok(report)
}
