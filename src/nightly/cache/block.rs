//! A day block's file: where it lives, its bytes, written atomically, read back into reused
//! buffers. A block is stored in the matrix's own layout, so that assembling the window is a
//! copy of each meter's day into its row, not a parse:
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
//! Inputs: a [`DayBlock`] and its meters' numbers, or a block path; outputs: the file, or a
//! [`RawBlock`] (a damaged block is an error naming it).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use chrono::NaiveDate;

use super::split::DayBlock;
use crate::nightly::NightlyError;

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
pub(super) struct RawBlock {
    pub(super) rows: usize,
    pub(super) n_slots: usize,
    pub(super) estimated: bool,
    pub(super) index: Vec<u32>,
    pub(super) native: Vec<u32>,
    pub(super) values: Vec<f32>,
    pub(super) est: Vec<u64>,
}

pub(super) fn damaged(path: &Path, what: &str) -> NightlyError {
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
    pub(super) fn read(&mut self, path: &Path, full: bool) -> Result<(), NightlyError> {
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

    pub(super) fn is_estimated(&self, r: usize, k: usize) -> bool {
        let bit = r * self.n_slots + k;
        self.estimated && self.est[bit / 64] >> (bit % 64) & 1 == 1
    }
}
