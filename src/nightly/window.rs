//! Window assembly: which day blocks are in force after tonight's files (a re-delivered file's
//! blocks give way to its new ones; a later file's readings override an earlier one's), which
//! day is the night (the newest complete day: its last interval has readings for at least
//! `complete_share` of its meters), the window's missing days, and the window as an
//! [`Ingested`] (the matrix assembled from the blocks by `cache::assemble`, the meters table
//! with licensed meters added, the weather on the window's grid).
//! Inputs: the database's day blocks, tonight's [`NewFile`]s, the options; outputs: the days
//! map, the night, the window's inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::days::{next_day, parse_day};
use super::landing::NewFile;
use super::{db, NightlyError};
use crate::ingest::{self, IngestOptions, Ingested, MeterTable, QualityLog};

/// A day block in force: (file order, block path relative to the state folder, meters, meters
/// with a reading in the day's last slot, landing file).
pub(super) type Block = (i64, String, i64, i64, String);

/// Day blocks in force after tonight's files, by day.
pub(super) fn days_in_force(
    conn: &rusqlite::Connection,
    new_files: &[NewFile],
) -> rusqlite::Result<BTreeMap<NaiveDate, Vec<Block>>> {
    let replaced: BTreeSet<i64> = new_files.iter().filter_map(|f| f.replaces).collect();
    let mut days: BTreeMap<NaiveDate, Vec<Block>> = BTreeMap::new();
    for r in db::day_blocks(conn)? {
        if replaced.contains(&r.file_id) {
            continue;
        }
        if let Some(d) = parse_day(&r.day) {
            days.entry(d).or_default().push((
                r.file_id,
                r.block,
                r.meters,
                r.last_slot_meters,
                r.path,
            ));
        }
    }
    for (k, f) in new_files.iter().enumerate() {
        if let Ok(bl) = &f.outcome {
            for (d, rel, b) in bl {
                // Tonight's files come after every recorded one.
                days.entry(*d).or_default().push((
                    i64::MAX - (new_files.len() - k) as i64,
                    rel.clone(),
                    b.ids.len() as i64,
                    b.last_slot_meters(),
                    f.path.clone(),
                ));
            }
        }
    }
    Ok(days)
}

/// The newest complete day: one of its blocks has readings in the day's last slot for at least
/// `complete_share` of its meters.
pub(super) fn newest_complete(
    days: &BTreeMap<NaiveDate, Vec<Block>>,
    complete_share: f64,
) -> Option<NaiveDate> {
    let complete = |blocks: &Vec<Block>| {
        blocks
            .iter()
            .any(|(_, _, m, last, _)| *m > 0 && *last as f64 >= complete_share * *m as f64)
    };
    days.iter()
        .rev()
        .find(|(_, b)| complete(b))
        .map(|(d, _)| *d)
}

/// The days from `first` to `night` with no block.
pub(super) fn missing_days(
    days: &BTreeMap<NaiveDate, Vec<Block>>,
    first: NaiveDate,
    night: NaiveDate,
) -> Vec<String> {
    let mut missing = Vec::new();
    let mut d = first;
    while d <= night {
        if !days.contains_key(&d) {
            missing.push(d.to_string());
        }
        d = next_day(d);
    }
    missing
}

/// The window's blocks, each day's in file order (a later file's readings override).
pub(super) fn window_blocks(
    days: &BTreeMap<NaiveDate, Vec<Block>>,
    first: NaiveDate,
    night: NaiveDate,
    state: &Path,
) -> Vec<(NaiveDate, PathBuf)> {
    days.range(first..=night)
        .flat_map(|(d, bl)| {
            let mut bl = bl.clone();
            bl.sort();
            bl.into_iter()
                .map(move |(_, rel, _, _, _)| (*d, state.join(rel)))
        })
        .collect()
}

/// The landing files behind the window's blocks (named by run.json and the report).
pub(super) fn window_sources(
    days: &BTreeMap<NaiveDate, Vec<Block>>,
    first: NaiveDate,
    night: NaiveDate,
) -> Vec<PathBuf> {
    let sources: BTreeSet<PathBuf> = days
        .range(first..=night)
        .flat_map(|(_, bl)| bl.iter().map(|b| PathBuf::from(&b.4)))
        .collect();
    sources.into_iter().collect()
}

/// The window as `Ingested`: the assembled matrix, the meters table (licensed meters added to
/// the registered list), the weather on the window's grid. Its quality log counts the cached
/// readings as read and used (the landing files' own quarantine is in landing_quality.csv).
pub(super) fn window_ingested(
    matrix: crate::grid::LoadMatrix,
    native: Vec<u32>,
    o: &IngestOptions,
    licensed: &BTreeSet<String>,
) -> Result<Ingested, NightlyError> {
    let mut quality = QualityLog::new("readings");
    let present = matrix.present_slots();
    quality.readings_read = present;
    quality.readings_used = present;
    let meters = match &o.meters {
        Some(p) => {
            let (t, q) = ingest::meta::read_meters(p)
                .map_err(|e| NightlyError::from(crate::app::AppError::from(e)))?;
            let mut rows: Vec<crate::ingest::MeterInfo> = t.rows().to_vec();
            for r in &mut rows {
                if licensed.contains(&r.meter_id) {
                    r.registered_miner = true;
                }
            }
            for m in licensed {
                if t.get(m).is_none() {
                    rows.push(crate::ingest::MeterInfo {
                        meter_id: m.clone(),
                        registered_miner: true,
                        ..Default::default()
                    });
                }
            }
            let t = MeterTable::from_rows(rows);
            let mut q = q;
            t.note_missing(&matrix, &mut q);
            Some((t, q))
        }
        None if !licensed.is_empty() => Some((
            MeterTable::from_rows(
                licensed
                    .iter()
                    .map(|m| crate::ingest::MeterInfo {
                        meter_id: m.clone(),
                        registered_miner: true,
                        ..Default::default()
                    })
                    .collect(),
            ),
            QualityLog::new("meters"),
        )),
        None => None,
    };
    let weather = match &o.weather {
        Some(p) => Some(
            ingest::weather::read_weather(p, &o.weather_time, &matrix.grid)
                .map_err(|e| NightlyError::from(crate::app::AppError::from(e)))?,
        ),
        None => None,
    };
    Ok(Ingested {
        matrix,
        quality,
        native_interval: native,
        meters: meters.map(|(t, q)| (std::sync::Arc::new(t), q)),
        feeders: None,
        weather,
        zero_copy: false,
        timings: Vec::new(),
    })
}
