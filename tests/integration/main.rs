//! Integration tests of `gridsleuth ingest`: the library API (`settings::resolve_ingest` +
//! `ingest::load`) and the binary (exit codes, `data_quality.csv`, `ingest.json`,
//! `matrix.parquet`), on the committed samples in `data-samples/` and on small files the tests
//! write into temporary directories. Nothing here reads `../shared`.
//!
//! - `bad_inputs`: one test per bad-input class of `data-samples/bad/` (see its README).
//! - `equivalence`: CSV vs Parquet, and row/file order, give bit-identical matrices.
//! - `time`: DST in Europe/London (fall-back, spring-forward), 15-min meters on a 30-min grid,
//!   gaps stay NaN.
//! - `samples`: the London files via options only; the region's feeders and weather.
//! - `cli`: help text, exit codes, the output files.
//! - `pinned`: hashes of the outputs of `run`, `balance` and `drop`, unchanged by refactoring.
//! - `stdout`: a closed pipe is success, a full disk is an error.
//! - `settings`: `gridsleuth config`, range checks of the config file, the `[balance]` table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

mod support;

mod bad_inputs;
mod cli;
mod equivalence;
mod eval;
mod grid_analysis;
mod pinned;
mod properties;
mod report;
mod run;
mod samples;
mod settings;
mod stdout;
mod synth;
mod time;
