//! The day cache: the readings of each landing file, split into local days (the site's zone),
//! one block per (day, file) under `STATE/cache/YYYY-MM-DD/`. A block is stored in the
//! matrix's own layout, so that assembling the window is a copy of each meter's day into its
//! row, not a parse:
//!
//! ```text
//! offset  size                what
//! 0       8                   magic b"GSDAY\0\0\x01" (format version 1)
//! 8       4                   rows (u32)     \
//! 12      4                   slots (u32)     | little-endian
//! 16      4                   flags (u32: bit 0 = estimated bits present)
//! 20      4                   reserved (0)   /
//! 24      4 rows              each row's meter, as its number in the state's meter index
//! ..      4 rows              each row's native interval (seconds)
//! ..      4 rows slots        kWh per slot from local midnight, meter-major f32, NaN = missing
//! ..      8 ceil(rows slots/64)  estimated bits, row-major (only with flag bit 0)
//! ```
//!
//! The meter index ([`MeterIndex`], the `meter_index` table) numbers each meter the first time
//! a block holds it and never renumbers or reuses a number, so a block written on one night
//! reads the same on every later night. The rows of a block are its meters in id order.
//!
//! Blocks are named by the content checksum of their file, written atomically (a temporary
//! sibling synced and renamed), and only referenced by the database once the night commits: a
//! killed night leaves at worst an unreferenced block, removed by [`prune`]; a meter numbered by
//! a killed night keeps its number. State folders of the first nightly (one Parquet file per
//! block) are converted on the next night ([`upgrade_parquet_blocks`]).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use polars::prelude::*;
use rustc_hash::FxHashMap;

use super::{db, NightlyError};
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

/// The state's meter index: meter id <-> a number, assigned once, in order of first sight.
#[derive(Debug, Default)]
pub struct MeterIndex {
    ids: Vec<Box<str>>,
    by_id: FxHashMap<Box<str>, u32>,
}

impl MeterIndex {
    /// The index as recorded in the database.
    pub fn load(conn: &rusqlite::Connection) -> rusqlite::Result<Self> {
        let mut m = MeterIndex::default();
        for (idx, id) in db::meter_index(conn)? {
            if idx as usize != m.ids.len() {
                return Err(rusqlite::Error::InvalidParameterName(format!(
                    "meter_index: number {idx} after {} numbers (the numbers must run from 0 \
                     without gaps)",
                    m.ids.len()
                )));
            }
            m.by_id.insert(id.clone(), idx);
            m.ids.push(id);
        }
        Ok(m)
    }

    /// The numbers of `ids`; meters seen for the first time are numbered and recorded (one
    /// transaction, committed at once: blocks written before the night commits refer to them).
    pub fn register(
        &mut self,
        conn: &mut rusqlite::Connection,
        ids: &[Box<str>],
    ) -> rusqlite::Result<Vec<u32>> {
        let fresh: Vec<&Box<str>> = ids
            .iter()
            .filter(|id| !self.by_id.contains_key(*id))
            .collect();
        if !fresh.is_empty() {
            let first = self.ids.len() as u32;
            db::insert_meter_index(conn, first, fresh.iter().map(|s| &***s))?;
            for (k, id) in fresh.into_iter().enumerate() {
                self.by_id.insert(id.clone(), first + k as u32);
                self.ids.push(id.clone());
            }
        }
        Ok(ids.iter().map(|id| self.by_id[id]).collect())
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The meter of number `idx`.
    pub fn id(&self, idx: u32) -> Option<&str> {
        self.ids.get(idx as usize).map(|s| &**s)
    }
}

/// Where a block lives, relative to the state folder.
pub fn block_rel(day: NaiveDate, checksum: &str) -> String {
    format!("cache/{day}/{}.day", &checksum[..checksum.len().min(16)])
}

const MAGIC: &[u8; 8] = b"GSDAY\0\0\x01";
const HEADER_BYTES: usize = 24;
const FLAG_ESTIMATED: u32 = 1;

/// A block's bytes: the header, then the arrays (see the module doc). `index[r]` is row `r`'s
/// meter number.
pub fn block_bytes(b: &DayBlock, index: &[u32]) -> Vec<u8> {
    let (rows, n) = (b.ids.len(), b.n_slots);
    let est_words = if b.estimated.is_empty() {
        0
    } else {
        (rows * n).div_ceil(64)
    };
    let mut out = Vec::with_capacity(HEADER_BYTES + 8 * rows + 4 * rows * n + 8 * est_words);
    out.extend_from_slice(MAGIC);
    let flags = if b.estimated.is_empty() {
        0
    } else {
        FLAG_ESTIMATED
    };
    for v in [rows as u32, n as u32, flags, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in index.iter().chain(&b.native) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    if cfg!(target_endian = "little") {
        out.extend_from_slice(bytemuck::cast_slice(&b.values));
    } else {
        for v in &b.values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    if est_words > 0 {
        let mut words = vec![0u64; est_words];
        for (k, _) in b.estimated.iter().enumerate().filter(|(_, e)| **e) {
            words[k / 64] |= 1 << (k % 64);
        }
        for w in words {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    out
}

/// Writes a block (atomically: a temporary sibling, synced, renamed into place).
pub fn write_block(b: &DayBlock, index: &[u32], path: &Path) -> Result<(), NightlyError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| NightlyError::io(dir, e))?;
    }
    crate::output::atomic::write_file(path, &block_bytes(b, index))
        .map_err(|e| NightlyError::io(path, e))
}

/// A block as read, into buffers reused from block to block.
#[derive(Debug, Default)]
struct RawBlock {
    rows: usize,
    n_slots: usize,
    estimated: bool,
    index: Vec<u32>,
    native: Vec<u32>,
    values: Vec<f32>,
    est: Vec<u64>,
}

fn damaged(path: &Path, what: &str) -> NightlyError {
    NightlyError::Other(format!(
        "{}: day cache block is damaged ({what})\n  fix: start a new state folder (its landing \
         files are read again), or restore the block from a backup of the state folder",
        path.display()
    ))
}

fn read_exact_u32(f: &mut impl Read, v: &mut Vec<u32>, n: usize) -> std::io::Result<()> {
    v.clear();
    v.resize(n, 0);
    f.read_exact(bytemuck::cast_slice_mut(v))?;
    if cfg!(target_endian = "big") {
        for x in v.iter_mut() {
            *x = u32::from_le(*x);
        }
    }
    Ok(())
}

impl RawBlock {
    /// Reads the header and the meter numbers (`full = false`), or everything.
    fn read(&mut self, path: &Path, full: bool) -> Result<(), NightlyError> {
        let io = |e: std::io::Error| NightlyError::io(path, e);
        let mut f = std::io::BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
        let len = std::fs::metadata(path).map_err(io)?.len();
        let mut h = [0u8; HEADER_BYTES];
        f.read_exact(&mut h)
            .map_err(|_| damaged(path, "shorter than its header"))?;
        if &h[..8] != MAGIC {
            return Err(damaged(path, "not a gridsleuth day block of format 1"));
        }
        let word = |k: usize| u32::from_le_bytes([h[k], h[k + 1], h[k + 2], h[k + 3]]);
        self.rows = word(8) as usize;
        self.n_slots = word(12) as usize;
        self.estimated = word(16) & FLAG_ESTIMATED != 0;
        let cells = self.rows as u64 * self.n_slots as u64;
        let est_words = if self.estimated {
            cells.div_ceil(64)
        } else {
            0
        };
        let expect = HEADER_BYTES as u64 + 8 * self.rows as u64 + 4 * cells + 8 * est_words;
        if len != expect {
            return Err(damaged(
                path,
                &format!("{len} bytes, its header says {expect}"),
            ));
        }
        read_exact_u32(&mut f, &mut self.index, self.rows).map_err(io)?;
        if !full {
            return Ok(());
        }
        read_exact_u32(&mut f, &mut self.native, self.rows).map_err(io)?;
        self.values.clear();
        self.values.resize(self.rows * self.n_slots, 0.0);
        f.read_exact(bytemuck::cast_slice_mut(&mut self.values))
            .map_err(io)?;
        if cfg!(target_endian = "big") {
            for v in &mut self.values {
                *v = f32::from_bits(u32::from_le(v.to_bits()));
            }
        }
        self.est.clear();
        self.est.resize(est_words as usize, 0);
        f.read_exact(bytemuck::cast_slice_mut(&mut self.est))
            .map_err(io)?;
        if cfg!(target_endian = "big") {
            for w in &mut self.est {
                *w = u64::from_le(*w);
            }
        }
        Ok(())
    }

    fn is_estimated(&self, r: usize, k: usize) -> bool {
        let bit = r * self.n_slots + k;
        self.estimated && self.est[bit / 64] >> (bit % 64) & 1 == 1
    }
}

/// The window's matrix from its day blocks (`blocks`: (day, path) in override order, a later
/// block's readings replacing an earlier one's where it has them), on the grid from local
/// midnight of `first` to local midnight after `last`. Returns the matrix and each meter's
/// native interval (its first block's).
///
/// Two passes over the blocks: the meter numbers of each (the window's meters, in id order,
/// are the matrix rows), then each block's values, copied row by row into place; the first
/// block of a day is one `copy_from_slice` per meter.
pub fn assemble(
    blocks: &[(NaiveDate, PathBuf)],
    first: NaiveDate,
    last: NaiveDate,
    interval_secs: u32,
    tz: Tz,
    index: &MeterIndex,
) -> Result<(LoadMatrix, Vec<u32>), NightlyError> {
    let start = day_start(first, tz);
    let end = day_start(next_day(last), tz);
    let iv = i64::from(interval_secs);
    let grid = TimeGrid {
        start,
        interval_secs,
        n_slots: ((end - start) / iv) as usize,
    };
    let blocks: Vec<&(NaiveDate, PathBuf)> = blocks
        .iter()
        .filter(|(d, _)| *d >= first && *d <= last)
        .collect();
    // Pass 1: the window's meters.
    let mut raw = RawBlock::default();
    let mut present = vec![false; index.len()];
    let mut any_est = false;
    for (_, p) in &blocks {
        raw.read(p, false)?;
        any_est |= raw.estimated;
        for &m in &raw.index {
            match present.get_mut(m as usize) {
                Some(x) => *x = true,
                None => return Err(damaged(p, &format!("meter number {m} is not in the index"))),
            }
        }
    }
    let mut members: Vec<u32> = (0..index.len() as u32)
        .filter(|&m| present[m as usize])
        .collect();
    members.sort_unstable_by(|a, b| index.id(*a).cmp(&index.id(*b)));
    let mut row_of = vec![u32::MAX; index.len()];
    for (row, &m) in members.iter().enumerate() {
        row_of[m as usize] = row as u32;
    }
    let ids: Vec<Box<str>> = members
        .iter()
        .map(|&m| Box::from(index.id(m).unwrap_or("")))
        .collect();
    let n = grid.n_slots;
    let mut values = vec![f32::NAN; ids.len() * n];
    let mut native = vec![0u32; ids.len()];
    let mut est_bits = if any_est {
        vec![0u64; (ids.len() * n).div_ceil(64)]
    } else {
        Vec::new()
    };
    // Pass 2: the values.
    let mut days_done: BTreeSet<NaiveDate> = BTreeSet::new();
    for (day, p) in &blocks {
        raw.read(p, true)?;
        let off = ((day_start(*day, tz) - start) / iv) as usize;
        let len = raw.n_slots.min(n.saturating_sub(off));
        let first_of_day = days_done.insert(*day);
        for r in 0..raw.rows {
            // Pass 1 numbered every meter of this block; a block changed since is damaged.
            let i = match row_of.get(raw.index[r] as usize) {
                Some(&i) if i != u32::MAX => i as usize,
                _ => return Err(damaged(p, "it changed while the window was assembled")),
            };
            if native[i] == 0 {
                native[i] = raw.native[r];
            }
            let src = &raw.values[r * raw.n_slots..r * raw.n_slots + len];
            let dst = &mut values[i * n + off..i * n + off + len];
            if first_of_day {
                // The day's slots are still all missing: copy the row as it is.
                dst.copy_from_slice(src);
                if raw.estimated {
                    for k in (0..len).filter(|&k| raw.is_estimated(r, k)) {
                        let bit = i * n + off + k;
                        est_bits[bit / 64] |= 1 << (bit % 64);
                    }
                }
                continue;
            }
            for (k, (d, &v)) in dst.iter_mut().zip(src).enumerate() {
                if v.is_nan() {
                    continue;
                }
                *d = v;
                if any_est {
                    let bit = i * n + off + k;
                    if raw.is_estimated(r, k) {
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

/// Converts the Parquet blocks of a state folder written by the first nightly (one Parquet
/// file per block, one column per slot) into day blocks, in one transaction; the Parquet files
/// are removed once it commits. Returns the number converted.
pub fn upgrade_parquet_blocks(
    conn: &mut rusqlite::Connection,
    state: &Path,
    index: &mut MeterIndex,
) -> Result<usize, NightlyError> {
    let dbp = super::db_path(state);
    let dberr = |e: rusqlite::Error| NightlyError::db(&dbp, e);
    let old = db::parquet_blocks(conn).map_err(dberr)?;
    if old.is_empty() {
        return Ok(0);
    }
    let mut renamed = Vec::with_capacity(old.len());
    for (day, rel) in &old {
        let Some(d) = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok() else {
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

    fn london() -> Tz {
        "Europe/London".parse().unwrap()
    }

    fn june(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 6, d).unwrap()
    }

    /// A state folder's database and an empty meter index.
    fn state() -> (tempfile::TempDir, rusqlite::Connection, MeterIndex) {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open(&super::super::db_path(dir.path())).unwrap();
        let index = MeterIndex::load(&conn).unwrap();
        (dir, conn, index)
    }

    fn write(
        b: &DayBlock,
        conn: &mut rusqlite::Connection,
        index: &mut MeterIndex,
        p: &Path,
    ) -> (NaiveDate, PathBuf) {
        let idx = index.register(conn, &b.ids).unwrap();
        write_block(b, &idx, p).unwrap();
        (b.day, p.to_path_buf())
    }

    fn same(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Two meters over two local days (UTC+1: 23:00 UTC is local midnight), one reading
    /// missing, one estimated.
    fn two_days() -> (LoadMatrix, Vec<f32>) {
        let grid = TimeGrid {
            start: day_start(june(1), london()),
            interval_secs: 1800,
            n_slots: 96,
        };
        let ids: Vec<Box<str>> = vec!["a".into(), "b".into()];
        let mut values: Vec<f32> = (0..192).map(|i| i as f32 / 10.0).collect();
        values[5] = f32::NAN;
        let mut est = vec![0u64; 3];
        est[0] |= 1 << 7;
        est[1] |= 1 << (100 - 64);
        let m = LoadMatrix::from_parts(grid, ids, values.clone(), est).unwrap();
        (m, values)
    }

    #[test]
    fn a_split_then_assembled_matrix_is_the_same_matrix() {
        let (m, values) = two_days();
        let days = split_days(&m, &[1800, 900], london()).unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].n_slots, 48);
        let (dir, mut conn, mut index) = state();
        let blocks: Vec<_> = days
            .iter()
            .map(|b| {
                let p = dir.path().join(block_rel(b.day, "0123456789abcdef0123"));
                write(b, &mut conn, &mut index, &p)
            })
            .collect();
        assert!(blocks[0]
            .1
            .to_string_lossy()
            .ends_with("/0123456789abcdef.day"));
        let (back, native) = assemble(&blocks, june(1), june(2), 1800, london(), &index).unwrap();
        assert_eq!(back.grid, m.grid);
        assert_eq!(native, vec![1800, 900]);
        assert!(same(back.values(), &values));
        for i in 0..2 {
            for s in 0..96 {
                assert_eq!(back.is_estimated(i, s), m.is_estimated(i, s), "{i} {s}");
            }
        }
        // The index reloaded from the database reads the blocks the same.
        let again = MeterIndex::load(&conn).unwrap();
        let (back2, _) = assemble(&blocks, june(1), june(2), 1800, london(), &again).unwrap();
        assert!(same(back2.values(), &values));
    }

    #[test]
    fn a_block_reads_the_same_after_later_meters_are_numbered() {
        // Night 1 brings meter "m"; night 2 brings "a" and "z" (numbered after "m", sorted
        // around it). The matrix rows are in id order whatever the numbers.
        let (dir, mut conn, mut index) = state();
        let block = |day, ids: &[&str], v: f32| DayBlock {
            day,
            n_slots: 48,
            ids: ids.iter().map(|s| Box::from(*s)).collect(),
            native: vec![1800; ids.len()],
            values: (0..ids.len() * 48).map(|k| v + (k / 48) as f32).collect(),
            estimated: Vec::new(),
        };
        let b1 = block(june(1), &["m"], 1.0);
        let b2 = block(june(2), &["a", "m", "z"], 10.0);
        let p1 = write(&b1, &mut conn, &mut index, &dir.path().join("1.day"));
        let p2 = write(&b2, &mut conn, &mut index, &dir.path().join("2.day"));
        assert_eq!(index.id(0), Some("m"));
        let (m, _) = assemble(&[p1, p2], june(1), june(2), 1800, london(), &index).unwrap();
        let ids: Vec<&str> = m.meter_ids().iter().map(|s| &**s).collect();
        assert_eq!(ids, ["a", "m", "z"]);
        assert!(m.row(0)[..48].iter().all(|v| v.is_nan()));
        assert!(m.row(0)[48..].iter().all(|&v| v == 10.0));
        assert!(m.row(1)[..48].iter().all(|&v| v == 1.0));
        assert!(m.row(1)[48..].iter().all(|&v| v == 11.0));
        assert!(m.row(2)[48..].iter().all(|&v| v == 12.0));
        // A window of day 2 alone has no row for a meter only day 1 had ... and all three here.
        let (m2, _) = assemble(
            &[(june(2), dir.path().join("2.day"))],
            june(2),
            june(2),
            1800,
            london(),
            &index,
        )
        .unwrap();
        assert_eq!(m2.n_meters(), 3);
        let (m1, _) = assemble(
            &[(june(1), dir.path().join("1.day"))],
            june(1),
            june(1),
            1800,
            london(),
            &index,
        )
        .unwrap();
        assert_eq!(m1.n_meters(), 1);
    }

    #[test]
    fn a_later_block_of_the_same_day_overrides_where_it_has_readings() {
        let (dir, mut conn, mut index) = state();
        let mut early = DayBlock {
            day: june(1),
            n_slots: 48,
            ids: vec!["a".into()],
            native: vec![1800],
            values: vec![1.0; 48],
            estimated: vec![true; 48],
        };
        let p1 = write(&early, &mut conn, &mut index, &dir.path().join("1.day"));
        early.values = vec![f32::NAN; 48];
        early.values[3] = 2.0;
        early.estimated = vec![false; 48];
        let p2 = write(&early, &mut conn, &mut index, &dir.path().join("2.day"));
        let (m, _) = assemble(&[p1, p2], june(1), june(1), 1800, london(), &index).unwrap();
        assert_eq!(m.row(0)[3], 2.0);
        assert!(!m.is_estimated(0, 3));
        assert_eq!(m.row(0)[4], 1.0);
        assert!(m.is_estimated(0, 4));
    }

    #[test]
    fn a_damaged_block_is_an_error_naming_it() {
        let (dir, mut conn, mut index) = state();
        let (m, _) = two_days();
        let days = split_days(&m, &[1800, 1800], london()).unwrap();
        let p = dir.path().join("x.day");
        let blk = write(&days[0], &mut conn, &mut index, &p);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 4]).unwrap();
        let e = assemble(
            std::slice::from_ref(&blk),
            june(1),
            june(1),
            1800,
            london(),
            &index,
        )
        .unwrap_err();
        let e = crate::settings::message_chain(&e);
        assert!(
            e.contains("x.day") && e.contains("damaged") && e.contains("fix:"),
            "{e}"
        );
        std::fs::write(&p, b"not a block at all, longer than a header").unwrap();
        let e = assemble(&[blk], june(1), june(1), 1800, london(), &index).unwrap_err();
        assert!(e.to_string().contains("not a gridsleuth day block"), "{e}");
    }

    /// The first nightly's block format, for the upgrade test.
    fn write_parquet_block(b: &DayBlock, path: &Path) {
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
        let mut df = DataFrame::new_infer_height(cols).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        ParquetWriter::new(File::create(path).unwrap())
            .finish(&mut df)
            .unwrap();
    }

    #[test]
    fn parquet_blocks_of_the_first_nightly_are_converted_once() {
        let (dir, mut conn, mut index) = state();
        let (m, values) = two_days();
        let days = split_days(&m, &[1800, 1800], london()).unwrap();
        conn.execute(
            "INSERT INTO files (id, path, size, mtime, checksum, rows, status, night)
             VALUES (1, 'f.csv', 1, 1, 'abc', 192, 'ingested', '2024-06-02')",
            [],
        )
        .unwrap();
        for b in &days {
            let rel = format!("cache/{}/abc.parquet", b.day);
            write_parquet_block(b, &dir.path().join(&rel));
            conn.execute(
                "INSERT INTO file_days (file_id, day, block, meters, readings, last_slot_meters)
                 VALUES (1, ?1, ?2, 2, 96, 2)",
                rusqlite::params![b.day.to_string(), rel],
            )
            .unwrap();
        }
        assert_eq!(
            upgrade_parquet_blocks(&mut conn, dir.path(), &mut index).unwrap(),
            2
        );
        assert_eq!(
            upgrade_parquet_blocks(&mut conn, dir.path(), &mut index).unwrap(),
            0
        );
        let rows = db::day_blocks(&conn).unwrap();
        assert!(
            rows.iter().all(|r| r.block.ends_with("/abc.day")),
            "{rows:?}"
        );
        assert!(!dir.path().join("cache/2024-06-01/abc.parquet").exists());
        let blocks: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    NaiveDate::parse_from_str(&r.day, "%Y-%m-%d").unwrap(),
                    dir.path().join(&r.block),
                )
            })
            .collect();
        let (back, _) = assemble(&blocks, june(1), june(2), 1800, london(), &index).unwrap();
        assert!(same(back.values(), &values));
        assert!(back.is_estimated(0, 7) && back.is_estimated(1, 4));
    }
}
