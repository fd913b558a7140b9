//! Inspection outcomes: `gridsleuth outcomes import visits.csv` ([`import`]), their effects on
//! the cases (applied by `cases::advance` each night), the field hit rate of past lists
//! ([`field_stats`]) and the calibration of score to the probability of a confirmed rig
//! ([`calibrate`]).
//!
//! The file: `case_id` or `meter_id` (one at least), `visit_date` (YYYY-MM-DD), `outcome`
//! (`mining_confirmed`, `no_mining`, `no_access`, `licensed`), and optional `found_kw`,
//! `devices`, `notes`; other columns are ignored (and named). Every bad row is reported with
//! the file, row, column and a fix; the good rows are imported (exit 1 when some were bad).
//! Importing the same visit twice (meter, date, outcome) records it once.
//!
//! Modules: [`import`] (the file checked and recorded), [`field`] (the field hit rate),
//! [`calibration`] (score to probability). This file reads the recorded outcomes back as the
//! case rules take them ([`visits`]).

mod calibration;
mod field;
mod import;

use rusqlite::Connection;

use super::cases::{OutcomeKind, Visit};
use super::days::parse_day;

pub use calibration::{calibrate, Calibration, MIN_PER_CLASS};
pub use field::{field_stats, FieldStats, HitRow};
pub use import::{import, BadRow, ImportOptions, ImportSummary};

/// Every recorded outcome, as the case rules take them.
pub fn visits(conn: &Connection) -> rusqlite::Result<Vec<Visit>> {
    let mut st = conn.prepare(
        "SELECT case_id, meter_id, visit_date, outcome FROM outcomes ORDER BY visit_date, id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (case_id, meter_id, date, kind) = r?;
        if let (Some(date), Some(kind)) = (parse_day(&date), OutcomeKind::parse(&kind)) {
            out.push(Visit {
                case_id,
                meter_id,
                date,
                kind,
            });
        }
    }
    Ok(out)
}
