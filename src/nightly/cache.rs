//! The columnar day cache: the readings of each landing file, split into local days (the
//! site's zone), one Parquet block per (day, file) under `STATE/cache/YYYY-MM-DD/`. A block is
//! one row per meter with readings that day: `meter_id`, `native_interval`, then `s0..sN` (kWh
//! per grid slot from local midnight, NaN = missing) and, when any slot is estimated,
//! `e0..eN` (booleans). A night reads only its new files; the window's matrix is assembled from
//! the blocks ([`assemble`]), a copy per block rather than a parse per reading.
//!
//! Blocks are named by the content checksum of their file, written atomically, and only
//! referenced by the database once the night commits: a killed night leaves at worst an
//! unreferenced block, removed by [`prune`].

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use polars::prelude::*;

use super::NightlyError;
use crate::grid::{LoadMatrix, TimeGrid};

/// Local midnight of `day` in `tz`, as a UTC instant (the first instant of the day when
/// midnight falls in a DST gap).
pub fn day_start(day: NaiveDate, tz: Tz) -> i64 {
    let mut t = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(d) = tz.from_local_datetime(&t).earliest() {
            return d.timestamp();
        }
        t += chrono::Duration::minutes(30);
    }
    tz.from_utc_datetime(&t).timestamp()
}

/// The local date of the instant `t`.
pub fn local_day(t: i64, tz: Tz) -> NaiveDate {
    tz.timestamp_opt(t, 0)
        .single()
        .map_or_else(NaiveDate::default, |d| d.date_naive())
}

pub fn next_day(d: NaiveDate) -> NaiveDate {
    d.checked_add_days(Days::new(1)).unwrap_or(d)
}

/// One day of one file's readings.
#[derive(Debug, Clone)]
pub struct DayBlock {
    pub day: NaiveDate,
    pub n_slots: usize,
    pub ids: Vec<Box<str>>,
    pub native: Vec<u32>,
    /// `ids.len() x n_slots`, row-major.
    pub values: Vec<f32>,
    /// Same shape; empty when nothing is estimated.
    pub estimated: Vec<bool>,
}

impl DayBlock {
    pub fn readings(&self) -> i64 {
        self.values.iter().filter(|v| !v.is_nan()).count() as i64
    }
    /// Meters with a reading in the day's last slot (the day's data reached its end).
    pub fn last_slot_meters(&self) -> i64 {
        if self.n_slots == 0 {
            return 0;
        }
        (0..self.ids.len())
            .filter(|&i| !self.values[i * self.n_slots + self.n_slots - 1].is_nan())
            .count() as i64
    }
}

/// Splits a file's matrix into local days of `tz`.
pub fn split_days(m: &LoadMatrix, native: &[u32], tz: Tz) -> Result<Vec<DayBlock>, String> {
    let g = m.grid;
    if g.n_slots == 0 || m.n_meters() == 0 {
        return Ok(Vec::new());
    }
    let iv = i64::from(g.interval_secs);
    let first = local_day(g.start, tz);
    let last = local_day(g.end() - 1, tz);
    let mut out = Vec::new();
    let mut day = first;
    while day <= last {
        let (ds, de) = (day_start(day, tz), day_start(next_day(day), tz));
        if (ds - g.start).rem_euclid(iv) != 0 {
            return Err(format!(
                "local midnight of {day} is not on the {}-minute grid of the readings",
                iv / 60
            ));
        }
        let n = ((de - ds) / iv) as usize;
        let mut ids = Vec::new();
        let mut nat = Vec::new();
        let mut values = Vec::new();
        let mut est = Vec::new();
        let mut any_est = false;
        for i in 0..m.n_meters() {
            let row = m.row(i);
            let mut vals = vec![f32::NAN; n];
            let mut e = vec![false; n];
            let mut present = false;
            for (k, v) in vals.iter_mut().enumerate() {
                let t = ds + k as i64 * iv;
                if let Some(s) = g.slot_of(t) {
                    *v = row[s];
                    if !row[s].is_nan() {
                        present = true;
                        if m.is_estimated(i, s) {
                            e[k] = true;
                            any_est = true;
                        }
                    }
                }
            }
            if present {
                ids.push(m.meter_ids()[i].clone());
                nat.push(native.get(i).copied().unwrap_or(g.interval_secs));
                values.extend(vals);
                est.extend(e);
            }
        }
        if !ids.is_empty() {
            out.push(DayBlock {
                day,
                n_slots: n,
                ids,
                native: nat,
                values,
                estimated: if any_est { est } else { Vec::new() },
            });
        }
        day = next_day(day);
    }
    Ok(out)
}

/// Where a block lives, relative to the state folder.
pub fn block_rel(day: NaiveDate, checksum: &str) -> String {
    format!(
        "cache/{day}/{}.parquet",
        &checksum[..checksum.len().min(16)]
    )
}

/// Writes a block (atomically: a temporary sibling renamed into place).
pub fn write_block(b: &DayBlock, path: &Path) -> Result<(), NightlyError> {
    let n = b.n_slots;
    let mut cols: Vec<Column> = vec![
        Column::new(
            "meter_id".into(),
            b.ids.iter().map(|s| &**s).collect::<Vec<&str>>(),
        ),
        Column::new("native_interval".into(), b.native.clone()),
    ];
    for k in 0..n {
        let v: Vec<f32> = (0..b.ids.len()).map(|i| b.values[i * n + k]).collect();
        cols.push(Column::new(format!("s{k}").into(), v));
    }
    if !b.estimated.is_empty() {
        for k in 0..n {
            let v: Vec<bool> = (0..b.ids.len()).map(|i| b.estimated[i * n + k]).collect();
            cols.push(Column::new(format!("e{k}").into(), v));
        }
    }
    let err = |e: PolarsError| NightlyError::io(path, e);
    let mut df = DataFrame::new_infer_height(cols).map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| NightlyError::io(dir, e))?;
    }
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| NightlyError::io(&tmp, e))?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| NightlyError::io(path, e))
}

/// Reads a block back.
pub fn read_block(path: &Path, day: NaiveDate) -> Result<DayBlock, NightlyError> {
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

/// The window's matrix from its day blocks (`blocks`: (day, path) in override order, a later
/// block's readings replacing an earlier one's), on the grid from local midnight of `first`
/// to local midnight after `last`. Returns the matrix and each meter's native interval.
pub fn assemble(
    blocks: &[(NaiveDate, PathBuf)],
    first: NaiveDate,
    last: NaiveDate,
    interval_secs: u32,
    tz: Tz,
) -> Result<(LoadMatrix, Vec<u32>), NightlyError> {
    let start = day_start(first, tz);
    let end = day_start(next_day(last), tz);
    let iv = i64::from(interval_secs);
    let grid = TimeGrid {
        start,
        interval_secs,
        n_slots: ((end - start) / iv) as usize,
    };
    let mut read = Vec::with_capacity(blocks.len());
    for (day, p) in blocks {
        if *day < first || *day > last {
            continue;
        }
        read.push(read_block(p, *day)?);
    }
    let ids: BTreeSet<&str> = read
        .iter()
        .flat_map(|b| b.ids.iter().map(|s| &**s))
        .collect();
    let ids: Vec<Box<str>> = ids.into_iter().map(Box::from).collect();
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, s)| (&**s, i)).collect();
    let n = grid.n_slots;
    let mut values = vec![f32::NAN; ids.len() * n];
    let mut native = vec![0u32; ids.len()];
    let any_est = read.iter().any(|b| !b.estimated.is_empty());
    let mut est_bits = if any_est {
        vec![0u64; (ids.len() * n).div_ceil(64)]
    } else {
        Vec::new()
    };
    for b in &read {
        let off = ((day_start(b.day, tz) - start) / iv) as usize;
        for (r, id) in b.ids.iter().enumerate() {
            let i = index[&**id];
            if native[i] == 0 {
                native[i] = b.native[r];
            }
            for k in 0..b.n_slots.min(n.saturating_sub(off)) {
                let v = b.values[r * b.n_slots + k];
                if v.is_nan() {
                    continue;
                }
                let s = off + k;
                values[i * n + s] = v;
                if any_est {
                    let bit = i * n + s;
                    let on = !b.estimated.is_empty() && b.estimated[r * b.n_slots + k];
                    if on {
                        est_bits[bit / 64] |= 1 << (bit % 64);
                    } else {
                        est_bits[bit / 64] &= !(1 << (bit % 64));
                    }
                }
            }
        }
    }
    for v in &mut native {
        if *v == 0 {
            *v = interval_secs;
        }
    }
    let m = LoadMatrix::from_parts(grid, ids, values, est_bits)
        .map_err(|e| NightlyError::Other(format!("day cache: {e}")))?;
    Ok((m, native))
}

/// Removes day folders before `keep_from` and blocks no longer referenced.
pub fn prune(state: &Path, keep_from: NaiveDate, referenced: &BTreeSet<String>) {
    let cache = state.join("cache");
    let Ok(days) = std::fs::read_dir(&cache) else {
        return;
    };
    for d in days.flatten() {
        let name = d.file_name().to_string_lossy().into_owned();
        match NaiveDate::parse_from_str(&name, "%Y-%m-%d") {
            Ok(day) if day < keep_from => {
                let _ = std::fs::remove_dir_all(d.path());
            }
            Ok(_) => {
                let Ok(files) = std::fs::read_dir(d.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    let rel = format!("cache/{name}/{}", f.file_name().to_string_lossy());
                    if !referenced.contains(&rel) {
                        let _ = std::fs::remove_file(f.path());
                    }
                }
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_then_assembled_matrix_is_the_same_matrix() {
        let tz: Tz = "Europe/London".parse().unwrap();
        // Two local days, half-hourly, in summer (UTC+1): 23:00 UTC is local midnight.
        let start = day_start(NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(), tz);
        let grid = TimeGrid {
            start,
            interval_secs: 1800,
            n_slots: 96,
        };
        let ids: Vec<Box<str>> = vec!["a".into(), "b".into()];
        let mut values: Vec<f32> = (0..192).map(|i| i as f32 / 10.0).collect();
        values[5] = f32::NAN;
        let mut est = vec![0u64; 3];
        est[0] |= 1 << 7;
        let m = LoadMatrix::from_parts(grid, ids, values.clone(), est).unwrap();
        let days = split_days(&m, &[1800, 1800], tz).unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].n_slots, 48);
        let dir = tempfile::tempdir().unwrap();
        let mut blocks = Vec::new();
        for b in &days {
            let p = dir.path().join(format!("{}.parquet", b.day));
            write_block(b, &p).unwrap();
            blocks.push((b.day, p));
        }
        let (back, native) = assemble(&blocks, days[0].day, days[1].day, 1800, tz).unwrap();
        assert_eq!(back.grid, grid);
        assert_eq!(native, vec![1800, 1800]);
        for (x, y) in back.values().iter().zip(&values) {
            assert!(x == y || (x.is_nan() && y.is_nan()));
        }
        assert!(back.is_estimated(0, 7));
        assert!(!back.is_estimated(0, 8));
    }
}
