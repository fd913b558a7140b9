//! The day cache: the readings of each landing file, split into local days (the site's zone),
//! one block per (day, file) under `STATE/cache/YYYY-MM-DD/`, and the window's matrix assembled
//! from them.
//!
//! Modules: [`split`] (a file's matrix split into [`DayBlock`]s), [`index`] (the state's
//! [`MeterIndex`]), [`block`] (a block's file format: written, read, named), [`assemble`]
//! (the window's matrix from its blocks), [`upgrade`] (the first nightly's Parquet blocks
//! converted). Pruning old blocks is retention's (`nightly::retention`, re-exported here as
//! [`prune`]); calendar days are `nightly::days`' (re-exported).
//!
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

mod assemble;
mod block;
mod index;
mod split;
mod upgrade;

pub use super::days::{day_start, local_day, next_day};
pub use super::retention::prune_blocks as prune;
pub use assemble::assemble;
pub use block::{block_bytes, block_rel, write_block};
pub use index::MeterIndex;
pub use split::{split_days, DayBlock};
pub use upgrade::upgrade_parquet_blocks;

#[cfg(test)]
mod tests;
