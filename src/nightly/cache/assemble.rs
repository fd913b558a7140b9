//! The window's matrix from its day blocks: two passes (the meter numbers of each block, then
//! each block's values copied row by row into place), a later block's readings overriding an
//! earlier one's of the same day where it has them. Inputs: the window's (day, block path)
//! list, its first and last day, the interval, zone and meter index; outputs: the
//! `LoadMatrix` and each meter's native interval.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::block::{damaged, RawBlock};
use super::{day_start, next_day, MeterIndex};
use crate::grid::{LoadMatrix, TimeGrid};
use crate::nightly::NightlyError;

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
