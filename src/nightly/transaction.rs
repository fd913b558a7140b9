//! The night's transaction: one SQLite transaction records the grid interval, tonight's files
//! and blocks, the scores (the flagged and the top others), the cases' rows, the missing-day
//! events and the run; a re-run of a night (or of an earlier one) replaces its rows first.
//! Inputs: the night's results; outputs: the database rows, all or none.

use std::path::Path;

use chrono::NaiveDate;
use rusqlite::params;

use super::cases::CaseNight;
use super::landing::{record_files, NewFile};
use super::{db, NightSummary, NightlyError};
use crate::output::atomic::barrier;

/// A row of `scores`.
pub(super) struct ScoreRow {
    meter_id: String,
    rank: Option<i64>,
    score: f64,
    kw: f64,
    devices: Option<u32>,
    onset: Option<String>,
    flagged: bool,
}

/// The rows of `scores`: the flagged findings and the `top_others` best scored others, best
/// first.
pub(super) fn score_rows(
    findings: &[crate::score::Finding],
    ids: &[Box<str>],
    top_others: usize,
) -> Vec<ScoreRow> {
    let mut ranked: Vec<&crate::score::Finding> = findings.iter().collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.meter.cmp(&b.meter)));
    let mut kept: Vec<ScoreRow> = Vec::new();
    let mut others = 0;
    for f in ranked {
        if f.flagged || others < top_others {
            others += usize::from(!f.flagged);
            kept.push(ScoreRow {
                meter_id: ids[f.meter].to_string(),
                rank: f.rank.map(|r| r as i64),
                score: f.score,
                kw: f.rig_kw,
                devices: f.devices,
                onset: f.onset.clone(),
                flagged: f.flagged,
            });
        }
    }
    kept
}

/// Step 5 of a night: the one transaction (see the module doc).
#[allow(clippy::too_many_arguments)]
pub(super) fn record_night(
    conn: &mut rusqlite::Connection,
    dbp: &Path,
    interval: Option<u32>,
    new_files: &[NewFile],
    night_s: &str,
    first: NaiveDate,
    kept: &[ScoreRow],
    tonight: &[CaseNight],
    summary: &NightSummary,
    target: &Path,
) -> Result<(), NightlyError> {
    let dberr = |e: rusqlite::Error| NightlyError::db(dbp, e);
    let tx = conn.transaction().map_err(dberr)?;
    if let Some(iv) = interval {
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('interval_secs', ?1)",
            params![iv.to_string()],
        )
        .map_err(dberr)?;
    }
    record_files(&tx, new_files, night_s).map_err(dberr)?;
    // A re-run of this night (or of an earlier one) replaces its rows.
    tx.execute("DELETE FROM scores WHERE night >= ?1", params![night_s])
        .map_err(dberr)?;
    tx.execute(
        "DELETE FROM case_nights WHERE night >= ?1",
        params![night_s],
    )
    .map_err(dberr)?;
    tx.execute(
        "DELETE FROM cases WHERE opened >= ?1 AND case_id NOT IN (SELECT case_id FROM case_nights)",
        params![night_s],
    )
    .map_err(dberr)?;
    tx.execute("DELETE FROM runs WHERE night >= ?1", params![night_s])
        .map_err(dberr)?;
    tx.execute(
        "DELETE FROM events WHERE night >= ?1 AND kind = 'missing_day'",
        params![night_s],
    )
    .map_err(dberr)?;
    for f in kept {
        tx.execute(
            "INSERT INTO scores (night, meter_id, rank, score, kw, devices, onset, flagged)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![night_s, f.meter_id, f.rank, f.score, f.kw, f.devices, f.onset, f.flagged],
        )
        .map_err(dberr)?;
    }
    for c in tonight {
        tx.execute(
            "INSERT OR IGNORE INTO cases (case_id, meter_id, onset, opened) VALUES (?1, ?2, ?3, ?4)",
            params![c.case_id, c.meter_id, c.onset, c.opened.to_string()],
        )
        .map_err(dberr)?;
        tx.execute(
            "INSERT INTO case_nights (case_id, night, state, flagged, score, kw, devices, rank,
                nights_flagged, max_kw, max_devices, vanished_on, closed_on, closed_reason,
                no_access_on, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                c.case_id,
                night_s,
                c.state.as_str(),
                c.flagged,
                c.score,
                c.kw,
                c.devices,
                c.rank.map(|r| r as i64),
                c.nights_flagged,
                c.max_kw,
                c.max_devices,
                c.vanished_on.map(|d| d.to_string()),
                c.closed_on.map(|d| d.to_string()),
                c.closed_reason,
                c.no_access_on.map(|d| d.to_string()),
                c.note
            ],
        )
        .map_err(dberr)?;
    }
    for m in &summary.missing_days {
        db::event(&tx, night_s, "missing_day", m).map_err(dberr)?;
    }
    let summary_json = serde_json::to_string(summary).unwrap_or_default();
    tx.execute(
        "INSERT INTO runs (night, window_start, window_end, started_at, duration_secs, files_new,
            rows_read, run_dir, summary) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            night_s,
            first.to_string(),
            night_s,
            chrono::Utc::now().to_rfc3339(),
            summary.duration_secs,
            (summary.files_new + summary.files_replaced) as i64,
            summary.rows_read as i64,
            target.display().to_string(),
            summary_json
        ],
    )
    .map_err(dberr)?;
    barrier("nightly:db-before-commit");
    tx.commit().map_err(dberr)?;
    barrier("nightly:db-committed");
    Ok(())
}
