//! Cases as the database holds them, for the case rules (`cases`): tonight's flags from the
//! findings, each case's latest row before a night, and the history of tonight's cases.
//! Inputs: the detection's findings, the `cases` and `case_nights` tables; outputs: [`Flag`]s,
//! [`CaseNight`]s, [`HistoryPoint`]s (written to `nightly.json` for the report's charts).
//! Tonight's rows are written by the night's transaction (`transaction`).

use std::collections::BTreeMap;

use rusqlite::params;
use serde::Serialize;

use super::cases::{CaseNight, Flag, State};
use super::days::parse_day;

/// Tonight's flags: the flagged findings, by meter id.
pub(super) fn flags(findings: &[crate::score::Finding], ids: &[Box<str>]) -> Vec<Flag> {
    findings
        .iter()
        .filter(|f| f.flagged)
        .map(|f| Flag {
            meter_id: ids[f.meter].to_string(),
            score: f.score,
            kw: f.rig_kw,
            devices: f.devices,
            onset: f.onset.clone(),
            rank: f.rank,
        })
        .collect()
}

/// One night of a case's history.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct HistoryPoint {
    pub night: String,
    pub state: String,
    pub score: Option<f64>,
    pub kw: Option<f64>,
}

/// Each case's latest row before `night`.
pub(super) fn previous_cases(
    conn: &rusqlite::Connection,
    night: &str,
) -> rusqlite::Result<Vec<CaseNight>> {
    let mut st = conn.prepare(
        "SELECT n.case_id, c.meter_id, c.onset, c.opened, n.night, n.state, n.flagged, n.score,
                n.kw, n.devices, n.rank, n.nights_flagged, n.max_kw, n.max_devices, n.vanished_on,
                n.closed_on, n.closed_reason, n.no_access_on, n.note
         FROM case_nights n JOIN cases c ON c.case_id = n.case_id
         WHERE n.night = (SELECT MAX(m.night) FROM case_nights m
                          WHERE m.case_id = n.case_id AND m.night < ?1)
         ORDER BY n.case_id",
    )?;
    let d = |s: Option<String>| s.as_deref().and_then(parse_day);
    let rows = st.query_map(params![night], |r| {
        Ok(CaseNight {
            case_id: r.get(0)?,
            meter_id: r.get(1)?,
            onset: r.get(2)?,
            opened: d(r.get(3)?).unwrap_or_default(),
            night: d(r.get(4)?).unwrap_or_default(),
            state: State::parse(&r.get::<_, String>(5)?).unwrap_or(State::Expired),
            flagged: r.get(6)?,
            score: r.get(7)?,
            kw: r.get(8)?,
            devices: r.get(9)?,
            rank: r.get::<_, Option<i64>>(10)?.map(|x| x as usize),
            nights_flagged: r.get(11)?,
            max_kw: r.get(12)?,
            max_devices: r.get(13)?,
            vanished_on: d(r.get(14)?),
            closed_on: d(r.get(15)?),
            closed_reason: r.get(16)?,
            no_access_on: d(r.get(17)?),
            note: r.get(18)?,
        })
    })?;
    rows.collect()
}

/// The history of tonight's cases: their recorded nights before tonight, then tonight.
pub(super) fn case_history(
    conn: &rusqlite::Connection,
    night: &str,
    tonight: &[CaseNight],
) -> rusqlite::Result<BTreeMap<String, Vec<HistoryPoint>>> {
    let mut out: BTreeMap<String, Vec<HistoryPoint>> = BTreeMap::new();
    let mut st = conn.prepare(
        "SELECT night, state, score, kw FROM case_nights WHERE case_id = ?1 AND night < ?2
         ORDER BY night",
    )?;
    for c in tonight.iter().filter(|c| c.state != State::Expired) {
        let mut v: Vec<HistoryPoint> = st
            .query_map(params![c.case_id, night], |r| {
                Ok(HistoryPoint {
                    night: r.get(0)?,
                    state: r.get(1)?,
                    score: r.get(2)?,
                    kw: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        v.push(HistoryPoint {
            night: night.to_string(),
            state: c.state.as_str().to_string(),
            score: c.score,
            kw: c.kw,
        });
        out.insert(c.case_id.clone(), v);
    }
    Ok(out)
}
