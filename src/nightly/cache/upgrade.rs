//! State folders of the first nightly (one Parquet file per block, one column per slot) are
//! converted to day blocks on the next night, in one transaction; the Parquet files are removed
//! once it commits. Inputs: the database's Parquet blocks; outputs: `.day` blocks, updated rows.

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use super::super::days::parse_day;
use super::{write_block, DayBlock, MeterIndex};
use crate::nightly::{db, NightlyError};

/// Converts the Parquet blocks of a state folder written by the first nightly (one Parquet
/// file per block, one column per slot) into day blocks, in one transaction; the Parquet files
/// are removed once it commits. Returns the number converted.
pub fn upgrade_parquet_blocks(
    conn: &mut rusqlite::Connection,
    state: &Path,
    index: &mut MeterIndex,
) -> Result<usize, NightlyError> {
    let dbp = crate::nightly::db_path(state);
    let dberr = |e: rusqlite::Error| NightlyError::db(&dbp, e);
    let old = db::parquet_blocks(conn).map_err(dberr)?;
    if old.is_empty() {
        return Ok(0);
    }
    let mut renamed = Vec::with_capacity(old.len());
    for (day, rel) in &old {
        let Some(d) = parse_day(day) else {
            continue;
        };
        let b = read_parquet_block(&state.join(rel), d)?;
        let idx = index.register(conn, &b.ids).map_err(dberr)?;
        let new_rel = rel.strip_suffix(".parquet").unwrap_or(rel).to_string() + ".day";
        write_block(&b, &idx, &state.join(&new_rel))?;
        renamed.push((rel.clone(), new_rel));
    }
    let tx = conn.transaction().map_err(dberr)?;
    for (a, b) in &renamed {
        tx.execute(
            "UPDATE file_days SET block = ?2 WHERE block = ?1",
            rusqlite::params![a, b],
        )
        .map_err(dberr)?;
    }
    tx.commit().map_err(dberr)?;
    for (a, _) in &renamed {
        let _ = std::fs::remove_file(state.join(a));
    }
    tracing::info!(
        blocks = renamed.len(),
        "day cache: Parquet blocks converted"
    );
    Ok(renamed.len())
}

/// Reads a block of the first nightly's format (Parquet: `meter_id`, `native_interval`,
/// `s0..sN` and, when any slot is estimated, `e0..eN`).
fn read_parquet_block(path: &Path, day: NaiveDate) -> Result<DayBlock, NightlyError> {
    let err = |e: PolarsError| NightlyError::io(path, e);
    let file = std::fs::File::open(path).map_err(|e| NightlyError::io(path, e))?;
    let df = ParquetReader::new(file).finish().map_err(err)?;
    let ids: Vec<Box<str>> = df
        .column("meter_id")
        .and_then(|c| c.str())
        .map_err(err)?
        .iter()
        .map(|s| Box::<str>::from(s.unwrap_or("")))
        .collect();
    let native: Vec<u32> = df
        .column("native_interval")
        .and_then(|c| c.u32())
        .map_err(err)?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let n = (0..)
        .take_while(|k| df.column(&format!("s{k}")).is_ok())
        .count();
    let rows = ids.len();
    let mut values = vec![f32::NAN; rows * n];
    for k in 0..n {
        let c = df
            .column(&format!("s{k}"))
            .and_then(|c| c.f32())
            .map_err(err)?;
        for (i, v) in c.iter().enumerate() {
            values[i * n + k] = v.unwrap_or(f32::NAN);
        }
    }
    let mut estimated = Vec::new();
    if df.column("e0").is_ok() {
        estimated = vec![false; rows * n];
        for k in 0..n {
            let c = df
                .column(&format!("e{k}"))
                .and_then(|c| c.bool())
                .map_err(err)?;
            for (i, v) in c.iter().enumerate() {
                estimated[i * n + k] = v.unwrap_or(false);
            }
        }
    }
    Ok(DayBlock {
        day,
        n_slots: n,
        ids,
        native,
        values,
        estimated,
    })
}
