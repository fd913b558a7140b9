//! Integration tests of `gridsleuth ingest`: the library API (`settings::resolve_ingest` +
//! `ingest::load`) and the binary (exit codes, `data_quality.csv`, `ingest.json`,
//! `matrix.parquet`), on the committed samples in `data-samples/` (generated or hand-written),
//! the hand-written files in `tests/fixtures/`, and small files the tests write into temporary
//! directories. Only `shared_data` reads real third-party data, from `../shared/data`, and
//! reports itself skipped when it is not there.
//!
//! - `bad_inputs`: one test per bad-input class of `data-samples/bad/` (see its README).
//! - `equivalence`: CSV vs Parquet, and row/file order, give bit-identical matrices.
//! - `time`: DST in Europe/London (fall-back, spring-forward), 15-min meters on a 30-min grid,
//!   gaps stay NaN.
//! - `samples`: the London layout via options only; the region's feeders and weather.
//! - `generated`: generators of real-world layouts (London homes, regional zones with
//!   temperature) and the check that `data-samples/drop/` is their output.
//! - `shared_data`: the real London homes, NEM12 exports and Tetouan zones from `../shared/data`
//!   (skipped with the reason when absent; `GRIDSLEUTH_REQUIRE_SHARED=1` makes that a failure).
//! - `detection`: issue 12 on generated regions: a Sydney meter in UTC, 15/30/60-minute
//!   meters, outages, a rig adding devices, a night rig among storage heaters, own spans.
//! - `balance_losses`: fitted loss curves (issue 15): the devset's London feeders with the
//!   issue's construction and loss-shape variants (skipped without `../shared/devset`), and
//!   synth regions with linear-only and quadratic-only losses.
//! - `cli`: help text, exit codes, the output files.
//! - `pinned`: hashes of the outputs of `run`, `balance` and `drop`, unchanged by refactoring.
//! - `stdout`: a closed pipe is success, a full disk is an error.
//! - `settings`: `gridsleuth config`, range checks of the config file, the `[balance]` table.
//! - `fuzz`: every crash the fuzzer found (`fuzz/regressions/`), its seeds and kept corpus.
//! - `robust`: stray timestamps (identical scores with and without), the memory budget.
//! - `model`: `fit` + `run --model` on three shards equals one run; refused models.
//! - `streamed`: `run` over the memory budget in four chunks equals the in-memory run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

mod support;

mod atomic_runs;
mod bad_inputs;
mod balance_losses;
mod cli;
mod detection;
mod equivalence;
mod eval;
mod fuzz;
mod generated;
mod grid_analysis;
mod model;
mod nightly;
mod pinned;
mod properties;
mod report;
mod robust;
mod run;
mod samples;
mod settings;
mod shared_data;
mod stdout;
mod streamed;
mod synth;
mod time;
