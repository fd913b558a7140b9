//! The field hit rate of past lists: of the visits dated up to a night, how many found a rig,
//! by score band (the case's score on its last night up to the visit) and by ISO week of the
//! visit. Inputs: the `outcomes` and `case_nights` tables; output: [`FieldStats`] (in
//! `nightly.json` and the report).

use std::collections::BTreeMap;

use chrono::Datelike;
use rusqlite::{params, Connection};
use serde::Serialize;

use crate::nightly::days::parse_day;

/// Hits among visits of one group (a score band or a week).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct HitRow {
    pub group: String,
    pub visits: usize,
    pub confirmed: usize,
    pub no_mining: usize,
    pub no_access: usize,
    /// confirmed / (confirmed + no_mining); `None` with neither.
    pub hit_rate: Option<f64>,
    pub confirmed_kw: f64,
}

/// The field record of past lists.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FieldStats {
    pub by_band: Vec<HitRow>,
    pub by_week: Vec<HitRow>,
    pub total: HitRow,
    pub licensed: usize,
}

fn band(score: Option<f64>) -> String {
    match score {
        None => "no score".into(),
        Some(s) => {
            let lo = ((s * 10.0).floor() / 10.0).clamp(0.0, 0.9);
            format!("{lo:.1}-{:.1}", lo + 0.1)
        }
    }
}

/// Hit rate by score band (the case's score on its last night up to the visit) and by ISO week
/// of the visit, for the outcomes dated up to `night`.
pub fn field_stats(conn: &Connection, night: &str) -> rusqlite::Result<FieldStats> {
    let mut st = conn.prepare(
        "SELECT o.outcome, o.visit_date, o.found_kw,
            (SELECT n.score FROM case_nights n WHERE n.case_id = o.case_id AND n.score IS NOT NULL
               AND n.night <= o.visit_date ORDER BY n.night DESC LIMIT 1),
            (SELECT n.score FROM case_nights n WHERE n.case_id = o.case_id AND n.score IS NOT NULL
               ORDER BY n.night LIMIT 1)
         FROM outcomes o WHERE o.visit_date <= ?1 ORDER BY o.visit_date, o.id",
    )?;
    let rows = st.query_map(params![night], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<f64>>(2)?,
            r.get::<_, Option<f64>>(3)?,
            r.get::<_, Option<f64>>(4)?,
        ))
    })?;
    let mut bands: BTreeMap<String, HitRow> = BTreeMap::new();
    let mut weeks: BTreeMap<String, HitRow> = BTreeMap::new();
    let mut total = HitRow {
        group: "all".into(),
        ..HitRow::default()
    };
    let mut licensed = 0;
    for r in rows {
        let (kind, date, kw, score_before, score_first) = r?;
        if kind == "licensed" {
            licensed += 1;
            continue;
        }
        let week = parse_day(&date)
            .map(|d| {
                let w = d.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            })
            .unwrap_or(date.clone());
        let b = band(score_before.or(score_first));
        for row in [
            bands.entry(b.clone()).or_insert_with(|| HitRow {
                group: b.clone(),
                ..HitRow::default()
            }),
            weeks.entry(week.clone()).or_insert_with(|| HitRow {
                group: week.clone(),
                ..HitRow::default()
            }),
            &mut total,
        ] {
            row.visits += 1;
            match kind.as_str() {
                "mining_confirmed" => {
                    row.confirmed += 1;
                    row.confirmed_kw += kw.unwrap_or(0.0);
                }
                "no_mining" => row.no_mining += 1,
                _ => row.no_access += 1,
            }
            let judged = row.confirmed + row.no_mining;
            row.hit_rate = (judged > 0).then(|| row.confirmed as f64 / judged as f64);
        }
    }
    Ok(FieldStats {
        by_band: bands.into_values().rev().collect(),
        by_week: weeks.into_values().collect(),
        total,
        licensed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_tenths() {
        assert_eq!(band(Some(0.73)), "0.7-0.8");
        assert_eq!(band(Some(1.0)), "0.9-1.0");
        assert_eq!(band(None), "no score");
    }
}
