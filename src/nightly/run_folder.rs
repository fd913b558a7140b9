//! The night's own files in its run folder, beside what `run` writes: `nightly.json` (the
//! window, tonight's cases and their history, suppressed flags, field hit rate, calibration,
//! what the list is ranked by, the notes) and `cases.csv` (one row per live case).
//! Inputs: tonight's cases and the night's facts; outputs: the two files in the staged folder.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;

use super::case_store::HistoryPoint;
use super::cases::{self, CaseNight, State};
use super::{outcomes, NightlyError};

/// The run folder's nightly file: cases, their history, outcomes.
pub const NIGHTLY_JSON: &str = "nightly.json";

#[derive(Debug, Serialize)]
pub(super) struct NightlyFile<'a> {
    pub(super) night: String,
    pub(super) window: (String, String),
    pub(super) missing_days: Vec<String>,
    pub(super) cases: &'a [CaseNight],
    /// Per case: (night, state, score, kW) for the nights it has rows, oldest first.
    pub(super) history: &'a BTreeMap<String, Vec<HistoryPoint>>,
    pub(super) suppressed: &'a [cases::Suppressed],
    pub(super) field: &'a outcomes::FieldStats,
    pub(super) calibration: Option<&'a outcomes::Calibration>,
    pub(super) ranked_by: String,
    pub(super) notes: Vec<String>,
}

impl NightlyFile<'_> {
    /// Writes `nightly.json` and `cases.csv` into `dir`.
    pub(super) fn write(&self, dir: &Path) -> Result<(), NightlyError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| NightlyError::io(dir, e))?;
        std::fs::write(dir.join(NIGHTLY_JSON), bytes).map_err(|e| NightlyError::io(dir, e))?;
        std::fs::write(dir.join("cases.csv"), cases_csv(self.cases))
            .map_err(|e| NightlyError::io(dir, e))
    }
}

fn cases_csv(cases: &[CaseNight]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "case_id",
        "meter_id",
        "state",
        "opened",
        "onset",
        "nights_flagged",
        "score",
        "est_rig_kw",
        "devices",
        "max_kw",
        "vanished_on",
        "closed_on",
        "closed_reason",
        "no_access_on",
        "note",
    ]);
    let o = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    for c in cases.iter().filter(|c| c.state != State::Expired) {
        let _ = w.write_record([
            c.case_id.as_str(),
            &c.meter_id,
            c.state.as_str(),
            &c.opened.to_string(),
            c.onset.as_deref().unwrap_or(""),
            &c.nights_flagged.to_string(),
            &c.score
                .map(|s| crate::output::csv_num(s, 4))
                .unwrap_or_default(),
            &c.kw
                .map(|s| crate::output::csv_num(s, 2))
                .unwrap_or_default(),
            &c.devices.map(|d| d.to_string()).unwrap_or_default(),
            &crate::output::csv_num(c.max_kw, 2),
            &o(c.vanished_on),
            &o(c.closed_on),
            c.closed_reason.as_deref().unwrap_or(""),
            &o(c.no_access_on),
            &c.note,
        ]);
    }
    let _ = w.flush();
    w.into_inner().unwrap_or_default()
}
