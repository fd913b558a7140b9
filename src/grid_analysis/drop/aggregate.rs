//! Meter readings summed into regional daily load, for the load-drop analysis of a utility's own
//! data (`gridsleuth drop --meter-config region.toml --group-by feeder`): the regions are
//! feeders, tariffs, or all meters together.
//!
//! Input: an [`Ingested`] (matrix, meters metadata, weather) and the zone of local days. Output:
//! a [`DailyLoad`] like the one [`super::load_series::read_load`] reads from a regional CSV.
//! A meter-day with at least [`MIN_METER_DAY_COVERAGE`] of its slots is scaled up to the whole
//! day (missing readings are not zero load); a group-day is kept when at least
//! [`super::load_series::MIN_DAY_COVERAGE`] of its meters have such a day; its coverage is that
//! share. Meters without the grouping attribute form the region `unassigned`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::load_series::{DailyLoad, MIN_DAY_COVERAGE};
use crate::features::Calendar;
use crate::ingest::Ingested;

/// A meter-day counts when this share of its slots is present.
pub const MIN_METER_DAY_COVERAGE: f64 = 0.5;
/// Region of meters without the grouping attribute.
pub const UNASSIGNED: &str = "unassigned";

/// How meters are grouped into regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One region per feeder (the meters file's `feeder_id`).
    #[default]
    Feeder,
    /// One region per tariff.
    Tariff,
    /// Every meter together.
    All,
}

/// Daily mean load (MW) of each group of meters.
pub fn daily_from_ingest(ing: &Ingested, group: GroupBy, tz: Tz) -> DailyLoad {
    let m = &ing.matrix;
    let cal = Calendar::new(&m.grid, tz);
    let days = cal.day_ranges();
    let hours = m.grid.interval_hours();
    let key = |id: &str| -> String {
        let info = ing.meters.as_ref().and_then(|(t, _)| t.get(id));
        let v = match group {
            GroupBy::Feeder => info.and_then(|i| i.feeder_id.clone()),
            GroupBy::Tariff => info.and_then(|i| i.tariff.clone()),
            GroupBy::All => Some("all".to_string()),
        };
        v.filter(|s| !s.is_empty())
            .unwrap_or_else(|| UNASSIGNED.to_string())
    };
    // Per group: meters, and per day the energy (kWh) and the meters with a usable day.
    let mut groups: BTreeMap<String, (usize, Vec<f64>, Vec<usize>)> = BTreeMap::new();
    for (i, id) in m.meter_ids().iter().enumerate() {
        let g = groups
            .entry(key(id))
            .or_insert_with(|| (0, vec![0.0; days.len()], vec![0; days.len()]));
        g.0 += 1;
        let row = m.row(i);
        for (d, r) in days.iter().enumerate() {
            let (s, n) = row[r.clone()]
                .iter()
                .filter(|v| !v.is_nan())
                .fold((0.0, 0usize), |(s, n), v| (s + f64::from(*v), n + 1));
            if n > 0 && n as f64 >= MIN_METER_DAY_COVERAGE * r.len() as f64 {
                g.1[d] += s * r.len() as f64 / n as f64;
                g.2[d] += 1;
            }
        }
    }
    let mut out = DailyLoad {
        dates: cal
            .dates
            .iter()
            .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .collect(),
        rows_read: m.present_slots(),
        ..DailyLoad::default()
    };
    for (name, (meters, kwh, ok)) in groups {
        let coverage: Vec<f64> = ok.iter().map(|&k| k as f64 / meters as f64).collect();
        let mw = days
            .iter()
            .enumerate()
            .map(|(d, r)| {
                if coverage[d] < MIN_DAY_COVERAGE {
                    return f64::NAN;
                }
                // Scale the usable meters up to the whole group, then kWh -> mean MW.
                kwh[d] / coverage[d] / (r.len() as f64 * hours) / 1000.0
            })
            .collect();
        out.regions.push(name);
        out.load_mw.push(mw);
        out.coverage.push(coverage);
        out.interval_secs.push(i64::from(m.grid.interval_secs));
    }
    if let Some((w, _)) = &ing.weather {
        out.temp_c = days
            .iter()
            .map(|r| {
                let v: Vec<f64> = w.temperature_c[r.clone()]
                    .iter()
                    .filter(|t| !t.is_nan())
                    .map(|t| f64::from(*t))
                    .collect();
                if v.len() * 2 < r.len() {
                    f64::NAN
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{LoadMatrix, TimeGrid};
    use crate::ingest::{MeterInfo, MeterTable, QualityLog};

    #[test]
    fn groups_scale_partial_days_and_drop_thin_ones() {
        let grid = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 3600,
            n_slots: 48,
        };
        // A: 1 kWh every hour, half of day 2 missing (scaled up). B: 3 kWh, day 2 missing.
        // C: no feeder.
        let mut v: Vec<f32> = (0..48)
            .map(|s| if s >= 36 { f32::NAN } else { 1.0 })
            .collect();
        v.extend((0..48).map(|s| if s >= 24 { f32::NAN } else { 3.0 }));
        v.extend(std::iter::repeat_n(2.0, 48));
        let ids: Vec<Box<str>> = vec!["A".into(), "B".into(), "C".into()];
        let matrix = LoadMatrix::from_parts(grid, ids, v, vec![]).unwrap();
        let info = |id: &str, f: Option<&str>| MeterInfo {
            meter_id: id.into(),
            feeder_id: f.map(String::from),
            ..MeterInfo::default()
        };
        let table = MeterTable::from_rows(vec![
            info("A", Some("F1")),
            info("B", Some("F1")),
            info("C", None),
        ]);
        let ing = Ingested {
            matrix,
            quality: QualityLog::new("readings"),
            native_interval: vec![3600; 3],
            meters: Some((std::sync::Arc::new(table), QualityLog::new("meters"))),
            feeders: None,
            weather: None,
            zero_copy: false,
            timings: Vec::new(),
        };
        let d = daily_from_ingest(&ing, GroupBy::Feeder, chrono_tz::UTC);
        assert_eq!(d.regions, vec!["F1", UNASSIGNED]);
        assert_eq!(d.dates.len(), 2);
        // Day 1: (1 + 3) kW = 0.004 MW. Day 2: only A usable (half the meters) -> dropped.
        assert!((d.load_mw[0][0] - 0.004).abs() < 1e-12);
        assert!(d.load_mw[0][1].is_nan());
        assert_eq!(d.coverage[0], vec![1.0, 0.5]);
        assert!((d.load_mw[1][1] - 0.002).abs() < 1e-12);
        let all = daily_from_ingest(&ing, GroupBy::All, chrono_tz::UTC);
        assert!((all.load_mw[0][0] - 0.006).abs() < 1e-12);
        // Day 2 of all: A (scaled to 24 kWh) and C present, B missing: 2 of 3 meters < 80%.
        assert!(all.load_mw[0][1].is_nan());
    }
}
