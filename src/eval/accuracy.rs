//! Accuracy of what the run says about the rigs it flags: the onset day and the device count,
//! over the flagged true positives (meters whose `flagged` is true and that are hidden miners).
//!
//! Onset errors are in whole UTC days, because scores.csv gives the onset as a day: the absolute
//! difference between the estimated and the true day. They are split by whether the true onset is at the window start (the rig ran before
//! the data begins, so the "onset" is only the edge of the data) or mid-window (a real step the
//! detector must date). metrics.py has no counterpart.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::input::{Label, Scored};

/// An estimated onset within this many days of the true one counts as right: scores.csv gives a
/// day, so +-1 day absorbs the time of day and the detector's change-point resolution.
pub const ONSET_TOLERANCE_DAYS: i64 = 1;

/// Onset errors of one group of flagged true positives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnsetErrors {
    pub n: usize,
    /// Median of |estimated day - true day| (UTC days).
    pub median_abs_error_days: Option<f64>,
    /// Share with an error of at most [`ONSET_TOLERANCE_DAYS`].
    pub within_1_day: Option<f64>,
}

/// How well the run dates the rigs it flags.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnsetAccuracy {
    /// The window start: a true onset equal to it means "running before the data begins".
    pub window_start: Option<String>,
    /// "run.json grid.start", "earliest onset in labels" or "none".
    pub window_start_source: &'static str,
    pub at_window_start: OnsetErrors,
    pub mid_window: OnsetErrors,
    pub all: OnsetErrors,
    /// Flagged true positives without an estimated or a true onset (not in `all`).
    pub without_onset: usize,
}

/// How well the run counts devices of the rigs it flags.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceAccuracy {
    /// Flagged true positives with an estimate and a true count.
    pub n: usize,
    pub exact: Option<f64>,
    /// Share within +-1 device.
    pub within_1: Option<f64>,
    /// Flagged true positives without an estimate or a true count (not in `n`).
    pub without_estimate: usize,
}

/// Median of sorted values (`None` when empty), as pandas takes it (metrics.py).
fn median_sorted(v: &[i64]) -> Option<f64> {
    let f: Vec<f64> = v.iter().map(|&x| x as f64).collect();
    crate::stats::median_sorted_midpoint(&f)
}

fn onset_errors(mut errs: Vec<i64>) -> OnsetErrors {
    errs.sort_unstable();
    let n = errs.len();
    let within = errs.iter().filter(|&&e| e <= ONSET_TOLERANCE_DAYS).count();
    OnsetErrors {
        n,
        median_abs_error_days: median_sorted(&errs),
        within_1_day: (n > 0).then(|| within as f64 / n as f64),
    }
}

/// Onset errors, in whole UTC days (scores.csv gives only a day), of the flagged true positives.
pub(super) fn onset_accuracy(
    labels: &[Label],
    joined: &[Option<&Scored>],
    flagged_tp: &[usize],
    window_start: Option<DateTime<Utc>>,
) -> OnsetAccuracy {
    let (start, source) = match window_start {
        Some(t) => (Some(t), "run.json grid.start"),
        None => match labels.iter().filter_map(|l| l.onset).min() {
            Some(t) => (Some(t), "earliest onset in labels"),
            None => (None, "none"),
        },
    };
    let (mut at_start, mut mid, mut without) = (Vec::new(), Vec::new(), 0usize);
    for &i in flagged_tp {
        let est = joined[i].and_then(|s| s.onset);
        match (labels[i].onset, est) {
            (Some(truth), Some(est)) => {
                let err = (est - truth.date_naive()).num_days().abs();
                let at_window_start = match labels[i].onset_mid {
                    Some(mid) => !mid,
                    None => start.is_some_and(|s| truth <= s),
                };
                if at_window_start {
                    at_start.push(err);
                } else {
                    mid.push(err);
                }
            }
            _ => without += 1,
        }
    }
    let all: Vec<i64> = at_start.iter().chain(&mid).copied().collect();
    OnsetAccuracy {
        window_start: start.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        window_start_source: source,
        at_window_start: onset_errors(at_start),
        mid_window: onset_errors(mid),
        all: onset_errors(all),
        without_onset: without,
    }
}

/// Device-count accuracy of the flagged true positives.
pub(super) fn device_accuracy(
    labels: &[Label],
    joined: &[Option<&Scored>],
    flagged_tp: &[usize],
) -> DeviceAccuracy {
    let (mut n, mut exact, mut within, mut without) = (0usize, 0usize, 0usize, 0usize);
    for &i in flagged_tp {
        match (labels[i].n_devices, joined[i].and_then(|s| s.est_devices)) {
            (Some(truth), Some(est)) => {
                n += 1;
                let d = truth.abs_diff(est);
                exact += usize::from(d == 0);
                within += usize::from(d <= 1);
            }
            _ => without += 1,
        }
    }
    let share = |h: usize| (n > 0).then(|| h as f64 / n as f64);
    DeviceAccuracy {
        n,
        exact: share(exact),
        within_1: share(within),
        without_estimate: without,
    }
}
