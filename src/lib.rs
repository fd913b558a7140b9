//! gridsleuth finds hidden crypto-mining rigs in electricity load data.
//!
//! The pipeline: **ingest** streams readings (long CSV/Parquet, wide, NEM12) into a
//! [`grid::LoadMatrix`], meters x time slots of kWh on one UTC grid, quarantining every bad
//! reading with its reason in a [`ingest::QualityLog`] whose counts reconcile. Later stages
//! (features, clustering, scoring, reports) read the matrix, never the files.
//!
//! The library stands without its command line: every command is a function taking a plain,
//! validated options struct ([`app::run_ingest`], [`app::run_detect`], [`app::run_fit`],
//! [`grid_analysis::run_balance`], [`grid_analysis::run_drop`], [`report::render`],
//! [`synth::run_synth`], [`eval::run_eval`]). [`settings`] is the one place flags and the config
//! file become those options; only [`cli`] (and `main.rs`) knows the argument parser.
//!
//! Modules, in pipeline order:
//! - [`settings`]: flags + TOML config -> validated options for every command (file read once).
//! - [`ingest`]: readers, time zones and DST, the streaming accumulator, data quality.
//! - [`grid`]: [`grid::LoadMatrix`] and [`grid::TimeGrid`].
//! - [`features`], [`cluster`], [`score`], [`detect`]: per-meter features, clustering, scoring.
//! - [`model`]: everything a meter's score depends on beyond its own row (peer levels and
//!   signals, the clustering, settings), fitted once and shared by shards and chunks.
//! - [`stats`]: median, quantiles, MAD, the evidence ramp (one empty-input rule).
//! - [`numfmt`]: numbers in messages and `data_quality.csv`, compact (`1e300`, not 301 digits).
//! - [`output`]: the run directory's files, summary text/JSON, matrix Parquet.
//! - [`report`]: the inspector HTML; [`plot`]: charts.
//! - [`grid_analysis`]: feeder energy balance and regional load drop.
//! - [`synth`], [`eval`]: labelled synthetic regions and metrics against labels.
//! - [`nightly`]: the scheduled run: landing folder, day cache, SQLite state, cases, outcomes.
//! - [`app`]: `ingest` and `run` as library functions.
//! - [`cli`]: the command line: argument definitions, dispatch, stdout and error reports.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod detect;
pub mod eval;
pub mod features;
pub mod grid;
pub mod grid_analysis;
pub mod ingest;
pub mod model;
pub mod nightly;
pub mod numfmt;
pub mod output;
pub mod plot;
pub mod report;
pub mod score;
pub mod settings;
pub mod stats;
pub mod synth;
